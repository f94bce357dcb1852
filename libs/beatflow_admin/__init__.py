"""`beatflow-admin`: operator commands run against the databases (e.g. by the Helm CronJob)."""
