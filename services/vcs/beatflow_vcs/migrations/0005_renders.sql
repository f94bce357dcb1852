-- Which file each render key produced (render_index.py): the render cache's index, shared by every
-- replica and kept across restarts. The file is a content-addressed object of the store (object_id
-- is the sha256 of its bytes), not a row of blobs: no one uploaded it and no commit names it.
-- A row is written once the object is published; a row whose object went missing is replaced by
-- the next render of its key.
CREATE TABLE renders (
    render_key text PRIMARY KEY CHECK (render_key ~ '^[0-9a-f]{64}$'),
    object_id text NOT NULL CHECK (object_id ~ '^[0-9a-f]{64}$'),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    audio_format text NOT NULL,
    frames bigint NOT NULL CHECK (frames >= 0),
    sample_rate integer NOT NULL CHECK (sample_rate > 0),
    channels integer NOT NULL CHECK (channels > 0),
    -- Applied to the whole mix so that it does not clip: 0 or negative.
    headroom_gain_db double precision NOT NULL CHECK (headroom_gain_db <= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
