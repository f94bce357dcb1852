-- Fair scheduling: priority classes, each job's audio length (quotas, ETAs, autoscaling) and its
-- engine (real-time factors), and when each owner was last served.

-- 0 interactive, 1 batch: a lower class is always claimed first.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0 CHECK (priority IN (0, 1));
-- Seconds of audio the job renders or reads; 0 when unknown at submit.
ALTER TABLE jobs ADD COLUMN audio_seconds double precision NOT NULL DEFAULT 0 CHECK (audio_seconds >= 0);
ALTER TABLE jobs ADD COLUMN engine text NOT NULL DEFAULT '';

-- Round robin across owners: the one served longest ago goes first among equals.
CREATE TABLE owner_turns (
    owner_id text PRIMARY KEY,
    last_claimed_at timestamptz NOT NULL
);

-- Claims find each owner's best queued class, then that owner's oldest job in it.
DROP INDEX jobs_queued_idx;
CREATE INDEX jobs_queued_idx ON jobs (owner_id, priority, created_at) WHERE state = 'queued';
-- Real-time factors are read from recently succeeded jobs of a kind and engine.
CREATE INDEX jobs_succeeded_idx ON jobs (kind, engine, ended_at DESC) WHERE state = 'succeeded';

-- Locks and returns the next job for a worker of `kinds`, or NULL. Owners with runnable work are
-- ranked by their best priority class, then by how many of these kinds' jobs they already run
-- (an owner at `max_running`, when above 0, waits), then by how long ago they were last served;
-- the first whose oldest job in that class is not locked by another claim gets it.
CREATE FUNCTION next_job(kinds text[], max_running integer) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    head record;
    picked uuid;
BEGIN
    FOR head IN
        -- Owners with queued jobs, one index probe each (a loose index scan of jobs_queued_idx),
        -- then each one's best class among the jobs it has runnable for these kinds.
        WITH RECURSIVE owners AS (
            (SELECT owner_id FROM jobs.jobs WHERE state = 'queued' ORDER BY owner_id LIMIT 1)
            UNION ALL
            SELECT (SELECT j.owner_id FROM jobs.jobs j WHERE j.state = 'queued' AND j.owner_id > o.owner_id
                    ORDER BY j.owner_id LIMIT 1)
            FROM owners o WHERE o.owner_id IS NOT NULL
        ), waiting AS (
            SELECT o.owner_id, best.priority FROM owners o
            CROSS JOIN LATERAL (
                SELECT j.priority FROM jobs.jobs j
                WHERE j.owner_id = o.owner_id AND j.state = 'queued' AND j.kind = ANY(kinds)
                    AND j.run_after <= now()
                ORDER BY j.priority LIMIT 1
            ) best
        ), running AS (
            SELECT owner_id, count(*) AS jobs FROM jobs.jobs
            WHERE state = 'running' AND kind = ANY(kinds) GROUP BY owner_id
        )
        SELECT w.owner_id, w.priority FROM waiting w
        LEFT JOIN running r USING (owner_id)
        LEFT JOIN jobs.owner_turns t USING (owner_id)
        WHERE max_running = 0 OR coalesce(r.jobs, 0) < max_running
        ORDER BY w.priority, coalesce(r.jobs, 0), t.last_claimed_at NULLS FIRST, w.owner_id
    LOOP
        SELECT id INTO picked FROM jobs.jobs
        WHERE owner_id = head.owner_id AND priority = head.priority AND state = 'queued'
            AND kind = ANY(kinds) AND run_after <= now()
        ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF picked IS NOT NULL THEN
            INSERT INTO jobs.owner_turns (owner_id, last_claimed_at) VALUES (head.owner_id, clock_timestamp())
            ON CONFLICT (owner_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at;
            RETURN picked;
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
