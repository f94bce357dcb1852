"""PostgreSQL access: an async psycopg 3 pool and versioned SQL migrations."""
