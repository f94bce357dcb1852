"""The durable job system: a PostgreSQL queue with leases, workers, live events and the JobService."""
