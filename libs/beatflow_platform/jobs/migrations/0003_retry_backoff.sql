-- Retries wait: a job given back to the queue (its handler hit a passing fault, or its worker stopped
-- renewing the lease) runs again only after an exponential back-off with jitter, via run_after,
-- which jobs.next_job (0002) already honours. Workers are woken only for jobs they can run now.

-- Seconds before the next attempt of a job whose attempt number `attempt` just failed:
-- base x 2^(attempt - 1), at most max_seconds, times a random factor in [1 - jitter, 1 + jitter]
-- so that jobs which failed together do not all come back together.
CREATE FUNCTION retry_delay_seconds(attempt integer, base_seconds float8, max_seconds float8, jitter float8)
RETURNS float8 LANGUAGE sql VOLATILE AS $$
    SELECT least(base_seconds * power(2::float8, least(greatest(attempt - 1, 0), 60)), max_seconds)
        * (1 + jitter * (2 * random() - 1))
$$;

-- Gives the running jobs among `ids` back: cancelled where their owner asked, queued again after the
-- back-off while attempts remain (progress reset, the stage `retrying` and a message saying why and
-- when), else failed with `code` and `message`. Returns how many it changed.
CREATE FUNCTION give_back(
    ids uuid[], reason text, code text, message text, base_seconds float8, max_seconds float8, jitter float8
) RETURNS integer LANGUAGE sql AS $$
    WITH picked AS (
        SELECT id, cancel_requested, NOT cancel_requested AND attempt < max_attempts AS again,
            now() + make_interval(secs => jobs.retry_delay_seconds(attempt, base_seconds, max_seconds, jitter))
                AS retry_at
        FROM jobs.jobs WHERE id = ANY(ids) AND state = 'running' FOR UPDATE
    ), changed AS (
        UPDATE jobs.jobs j SET
            state = CASE WHEN p.cancel_requested THEN 'cancelled' WHEN p.again THEN 'queued' ELSE 'failed' END,
            error_code = CASE WHEN p.cancel_requested OR p.again THEN NULL ELSE code END,
            error_message = CASE WHEN p.cancel_requested OR p.again THEN NULL ELSE message END,
            run_after = CASE WHEN p.again THEN p.retry_at ELSE j.run_after END,
            progress_fraction = CASE WHEN p.again THEN 0 ELSE j.progress_fraction END,
            progress_stage = CASE WHEN p.again THEN 'retrying' ELSE j.progress_stage END,
            progress_message = CASE WHEN p.again THEN format(
                'attempt %s of %s: %s; next attempt at %s', j.attempt, j.max_attempts, reason,
                to_char(p.retry_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) ELSE j.progress_message END,
            ended_at = CASE WHEN p.cancel_requested OR NOT p.again THEN now() END,
            lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        FROM picked p WHERE j.id = p.id
        RETURNING 1
    )
    SELECT count(*)::integer FROM changed
$$;

-- Workers wait until the earliest delayed job of their kinds is due (few rows: only retries wait).
CREATE INDEX jobs_queued_run_after_idx ON jobs (run_after) WHERE state = 'queued';

-- Workers listen per kind (the payload) and only for jobs they may claim now: a job queued for later
-- wakes nobody; the worker that saw it delayed wakes itself when it is due.
CREATE OR REPLACE FUNCTION notify_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('beatflow_job_changed', NEW.id::text);
    IF NEW.state = 'queued' AND NEW.run_after <= now() THEN
        PERFORM pg_notify('beatflow_job_queued', NEW.kind);
    END IF;
    RETURN NULL;
END;
$$;
