"""The vcs service: users and tokens, repositories, audio blobs, and Git-like history of stems."""
