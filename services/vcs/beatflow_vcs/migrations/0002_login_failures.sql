-- Failed logins per login name, for rate limiting password guessing.
CREATE TABLE login_failures (
    login text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_login_idx ON login_failures (login, failed_at);
