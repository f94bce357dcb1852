-- Users, tokens, repositories, blobs, commits and refs of the vcs service.

CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL,
    email text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Refresh tokens are stored as sha256 hashes; rotation keeps a family, and reusing a spent
-- token revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    family_id uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Deleted repositories keep their row (deleted_at) so that forks can still trace their lineage.
CREATE TABLE repositories (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES users,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    is_public boolean NOT NULL DEFAULT false,
    genre text NOT NULL DEFAULT '',
    default_branch text NOT NULL DEFAULT 'main',
    fork_source_repo_id uuid,
    fork_source_owner text,
    fork_source_name text,
    fork_source_commit_id text,
    -- repo_commits rows of the source with seq <= this belong to the fork's history too.
    fork_source_seq bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX repositories_owner_name_key ON repositories (owner_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX repositories_listing_idx ON repositories (created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE collaborators (
    repo_id uuid NOT NULL REFERENCES repositories ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('read', 'write')),
    PRIMARY KEY (repo_id, user_id)
);
CREATE INDEX collaborators_user_idx ON collaborators (user_id);

-- Retried writes with the same request id return the first result.
CREATE TABLE idempotent_requests (
    principal_id text NOT NULL,
    method text NOT NULL,
    request_id text NOT NULL,
    result_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, method, request_id)
);

CREATE TABLE blobs (
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    content_type text NOT NULL,
    audio_format text NOT NULL,
    duration_seconds double precision NOT NULL,
    sample_rate integer NOT NULL,
    channels integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Who may reference a blob in a commit without reaching it through a readable repository.
CREATE TABLE blob_grants (
    blob_id text NOT NULL REFERENCES blobs,
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    filename text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blob_id, user_id)
);

CREATE TABLE commits (
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    author_id uuid NOT NULL REFERENCES users,
    message text NOT NULL,
    bpm double precision NOT NULL DEFAULT 0,
    key_signature text NOT NULL DEFAULT '',
    generation_params jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    -- 1 + the largest parent generation: a parent always sorts after its children.
    generation integer NOT NULL CHECK (generation >= 1),
    -- The exact bytes whose sha256 is id.
    canonical bytea NOT NULL
);

CREATE TABLE commit_parents (
    commit_id text NOT NULL REFERENCES commits,
    position smallint NOT NULL,
    parent_id text NOT NULL REFERENCES commits,
    PRIMARY KEY (commit_id, position)
);
CREATE INDEX commit_parents_parent_idx ON commit_parents (parent_id);

CREATE TABLE commit_stems (
    commit_id text NOT NULL REFERENCES commits,
    name text NOT NULL,
    blob_id text NOT NULL REFERENCES blobs,
    PRIMARY KEY (commit_id, name)
);
CREATE INDEX commit_stems_blob_idx ON commit_stems (blob_id);

-- Which repository brought each commit in (append-only); with forks' lineage it decides who
-- may read a commit. A fork adds no rows here: that is what makes forking O(refs).
CREATE TABLE repo_commits (
    seq bigserial PRIMARY KEY,
    repo_id uuid NOT NULL,
    commit_id text NOT NULL REFERENCES commits,
    UNIQUE (repo_id, commit_id)
);
CREATE INDEX repo_commits_commit_idx ON repo_commits (commit_id);

CREATE TABLE refs (
    repo_id uuid NOT NULL REFERENCES repositories ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('branch', 'tag')),
    name text NOT NULL,
    commit_id text NOT NULL REFERENCES commits,
    message text NOT NULL DEFAULT '',
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, kind, name)
);
