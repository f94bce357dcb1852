-- One row per sign-in: the family of its rotating refresh tokens. Access tokens name their session
-- (claim "sid"); logout and refresh-token reuse set revoked_at, and from then on every service
-- refuses the session's access tokens (within auth.session_check_seconds, docs/reliability.md).
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Sign-ins made before this migration keep working: their refresh tokens' families become sessions.
INSERT INTO sessions (id, user_id, created_at, revoked_at)
SELECT family_id, user_id, min(created_at), max(revoked_at) FROM refresh_tokens GROUP BY family_id, user_id;

ALTER TABLE refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_fkey FOREIGN KEY (family_id) REFERENCES sessions ON DELETE CASCADE;
