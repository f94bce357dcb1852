-- Garbage collection of blobs (`beatflow-admin gc`, docs/operations.md). A blob nothing names is collected
-- only once its last upload is older than the grace period, so uploads in flight and blobs not yet
-- committed survive. It starts as the first upload's time (an upload of the same bytes may renew it).
ALTER TABLE blobs ADD COLUMN last_uploaded_at timestamptz NOT NULL DEFAULT now();
UPDATE blobs SET last_uploaded_at = created_at;
-- The collector never deletes an object a render names (a render's file may hold the bytes of a blob).
CREATE INDEX renders_object_idx ON renders (object_id);
