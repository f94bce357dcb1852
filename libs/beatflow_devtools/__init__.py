"""Throwaway infrastructure for tests and the local stack: a PostgreSQL cluster and S3 servers on 127.0.0.1."""
