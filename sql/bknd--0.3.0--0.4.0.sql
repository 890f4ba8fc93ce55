-- bknd 0.3.0 -> 0.4.0: the bytes of objects deleted by anyone (psql included) are queued in
-- bknd.storage_garbage for the sidecar to delete; storage_finish_upload takes the
-- cache-control and metadata a signed upload's request gave.
-- The same objects a fresh 0.4.0 install creates (tests/tests/upgrade.rs compares the two).
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.4.0'" to load this file. \quit

-- Bytes no row points at any more: a deleted object's, whoever deleted it (the storage API, or
-- anyone the policies let delete rows, from psql or through a table that cascades). The
-- sidecar deletes the bytes (at start and every minute), then the entries here.
CREATE TABLE bknd.storage_garbage (
  version uuid PRIMARY KEY,
  bucket_id text NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON bknd.storage_garbage FROM PUBLIC;

CREATE FUNCTION bknd.objects_to_garbage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO bknd.storage_garbage (version, bucket_id) SELECT version, bucket_id FROM gone ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION bknd.objects_to_garbage() FROM PUBLIC;
CREATE TRIGGER objects_to_garbage AFTER DELETE ON bknd.objects
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bknd.objects_to_garbage();

-- The oldest `max_rows` entries, [{bucket, version}], and forgetting those whose bytes are gone.
-- The sidecar's role only.
CREATE FUNCTION bknd.storage_garbage(max_rows integer) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('bucket', bucket_id, 'version', version) ORDER BY queued_at), '[]'::jsonb)
  FROM (SELECT bucket_id, version, queued_at FROM bknd.storage_garbage ORDER BY queued_at LIMIT max_rows) g
$$;

CREATE FUNCTION bknd.storage_garbage_gone(versions uuid[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  WITH d AS (DELETE FROM bknd.storage_garbage WHERE version = ANY (versions) RETURNING 1) SELECT count(*)::integer FROM d
$$;
REVOKE EXECUTE ON FUNCTION bknd.storage_garbage(integer), bknd.storage_garbage_gone(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.storage_garbage(integer), bknd.storage_garbage_gone(uuid[]) TO authenticator;

-- src/storage/object.rs
DROP FUNCTION bknd.storage_finish_upload(uuid, bigint, text, boolean, text);
CREATE  FUNCTION "storage_finish_upload"(
	"id" uuid, /* pgrx :: Uuid */
	"size" bigint, /* i64 */
	"etag" TEXT, /* & str */
	"upsert" bool, /* bool */
	"mime_type" TEXT DEFAULT NULL, /* Option < & str > */
	"cache_control" TEXT DEFAULT NULL, /* Option < & str > */
	"user_metadata" jsonb DEFAULT NULL /* Option < pgrx :: JsonB > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_finish_upload_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.storage_finish_upload(uuid, bigint, text, boolean, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.storage_finish_upload(uuid, bigint, text, boolean, text, text, jsonb) TO authenticator;
