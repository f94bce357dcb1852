-- The durable job queue shared by the generator and separator workers.

CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    owner_id text NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    payload jsonb NOT NULL,
    request_id text,
    progress_fraction double precision NOT NULL DEFAULT 0,
    progress_stage text NOT NULL DEFAULT '',
    progress_message text NOT NULL DEFAULT '',
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after timestamptz NOT NULL DEFAULT now(),
    lease_owner text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- A serialized beatflow.jobs.v1.JobResult.
    result bytea,
    error_code text,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    ended_at timestamptz
);

-- Claims take the oldest runnable job of the worker's kinds.
CREATE INDEX jobs_queued_idx ON jobs (kind, created_at) WHERE state = 'queued';
-- The reaper looks for running jobs whose lease ran out.
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_owner_idx ON jobs (owner_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (owner_id, kind, request_id) WHERE request_id IS NOT NULL;

-- Every change wakes watchers (job id) and, for queued jobs, workers (kind).
CREATE FUNCTION notify_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('beatflow_job_changed', NEW.id::text);
    IF NEW.state = 'queued' THEN
        PERFORM pg_notify('beatflow_job_queued', NEW.kind);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION notify_job_change();
