"""`beatflow`: the command line for musicians and scripts, against a running gateway."""
