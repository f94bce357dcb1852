-- Comments on a moment of a commit: anchored to (commit, stem, time range), threaded by parent_id.
-- A reply carries its thread's anchor. Deleting keeps the row (deleted_at, body emptied) so that
-- replies keep their place in the thread.
CREATE TABLE comments (
    id uuid PRIMARY KEY,
    repo_id uuid NOT NULL REFERENCES repositories ON DELETE CASCADE,
    commit_id text NOT NULL REFERENCES commits,
    -- Empty: the whole mix.
    stem text NOT NULL,
    start_seconds double precision NOT NULL CHECK (start_seconds >= 0),
    end_seconds double precision NOT NULL CHECK (end_seconds >= start_seconds),
    parent_id uuid REFERENCES comments,
    author_id uuid NOT NULL REFERENCES users,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX comments_repo_idx ON comments (repo_id, created_at, id);
CREATE INDEX comments_parent_idx ON comments (parent_id);
