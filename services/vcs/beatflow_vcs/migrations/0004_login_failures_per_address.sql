-- Failed logins count per (login, client address) and per address, never per login alone, so
-- guessing from one address cannot lock the owner out from another (see login_throttle.py).
-- Rows older than the window are deleted as new attempts are written.
ALTER TABLE login_failures ADD COLUMN client_address text NOT NULL DEFAULT '';
DROP INDEX login_failures_login_idx;
CREATE INDEX login_failures_address_idx ON login_failures (client_address, failed_at);
CREATE INDEX login_failures_login_address_idx ON login_failures (login, client_address);
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);
