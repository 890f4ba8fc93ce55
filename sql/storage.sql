-- bknd storage (since 0.2.0): buckets and object metadata. Who may read or write which file is
-- decided by RLS policies on bknd.objects (bknd.allow_storage writes them); the bytes live in
-- the sidecar's store under `<bucket>/<version>`, so a row can only ever point at bytes written
-- for it. API roles may not touch the columns that say where the bytes are or that they are
-- complete (version, status, size, etag): only bknd's SECURITY DEFINER functions set those.
-- Keep sql/bknd--0.1.0--0.2.0.sql in step with this file.

CREATE TABLE bknd.buckets (
  id text PRIMARY KEY CONSTRAINT buckets_id_check CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  public boolean NOT NULL DEFAULT false,
  file_size_limit bigint CONSTRAINT buckets_file_size_limit_check CHECK (file_size_limit > 0),
  allowed_mime_types text[],
  owner_id uuid DEFAULT bknd.uid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bknd.objects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bucket_id text NOT NULL REFERENCES bknd.buckets (id) ON UPDATE CASCADE,
  name text NOT NULL CONSTRAINT objects_name_check CHECK (length(name) BETWEEN 1 AND 1024),
  owner_id uuid DEFAULT bknd.uid(),
  -- 'pending' while the bytes are on their way; 'ready' once stored (then visible all at once)
  status text NOT NULL DEFAULT 'pending' CONSTRAINT objects_status_check CHECK (status IN ('pending', 'ready')),
  -- where the bytes are: <bucket>/<version>; a new upload to the same name gets a new version
  version uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  size bigint,
  mime_type text,
  etag text,
  cache_control text,
  user_metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_accessed_at timestamptz NOT NULL DEFAULT now(),
  -- (since 0.5.0, last, where the upgrade adds it) a pending upload's right to overwrite: the
  -- version of the ready object it may replace, checked against the policies when the upload
  -- began (NULL: only a name nobody holds); finishing replaces that exact version or nothing,
  -- whoever finishes. An object keeps the version it replaced, so a later upload of the same
  -- owner bound to that version (two tabs, a retry) replaces it in turn: last writer wins.
  replaces_version uuid
);
-- one ready object per name; pending uploads (an upsert in flight) may coexist with it
CREATE UNIQUE INDEX objects_bucket_name_ready_idx ON bknd.objects (bucket_id, name) WHERE status = 'ready';
CREATE INDEX objects_bucket_name_idx ON bknd.objects (bucket_id, name text_pattern_ops);
CREATE INDEX objects_pending_idx ON bknd.objects (created_at) WHERE status = 'pending';

ALTER TABLE bknd.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.objects ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.buckets, bknd.objects FROM PUBLIC;
-- buckets: public ones are listed to anyone with an API key, private ones only to
-- service_role (BYPASSRLS), which manages them; more SELECT policies may widen that. Uploads
-- and downloads read a bucket's settings as the extension owner, so this hides only the list.
GRANT SELECT ON bknd.buckets TO anon, authenticated, service_role;
GRANT INSERT, UPDATE, DELETE ON bknd.buckets TO service_role;
CREATE POLICY bknd_buckets_visible ON bknd.buckets FOR SELECT USING (public);
-- objects: what the policies allow, on the columns a client may set
GRANT SELECT, DELETE ON bknd.objects TO anon, authenticated, service_role;
GRANT INSERT (id, bucket_id, name, user_metadata, mime_type, cache_control) ON bknd.objects TO anon, authenticated, service_role;
-- not bucket_id: the bytes live under the bucket, so a row moved by UPDATE would lose them
-- (moving to another bucket copies them: storage_begin_move)
GRANT UPDATE (name, user_metadata, updated_at, last_accessed_at) ON bknd.objects TO anon, authenticated, service_role;

SELECT pg_catalog.pg_extension_config_dump('bknd.buckets', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.objects', '');

-- Path helpers for policies, as in Supabase: bknd.foldername('a/b/c.png') = '{a,b}',
-- bknd.filename(...) = 'c.png', bknd.extension(...) = 'png'.
CREATE FUNCTION bknd.foldername(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (pg_catalog.string_to_array(name, '/'))[1:pg_catalog.array_length(pg_catalog.string_to_array(name, '/'), 1) - 1] $$;

CREATE FUNCTION bknd.filename(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (pg_catalog.string_to_array(name, '/'))[pg_catalog.array_length(pg_catalog.string_to_array(name, '/'), 1)] $$;

CREATE FUNCTION bknd.extension(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN pg_catalog.strpos(bknd.filename(name), '.') > 0
  THEN pg_catalog.reverse(pg_catalog.split_part(pg_catalog.reverse(bknd.filename(name)), '.', 1)) ELSE '' END $$;

-- Listing as storage-js shows it: the entries directly under `prefix`, folders (the next path
-- segment of deeper objects, id NULL) first, then files. Runs as the caller: RLS applies.
CREATE FUNCTION bknd.storage_list(bucket text, prefix text DEFAULT '', max_rows integer DEFAULT 100,
  skip integer DEFAULT 0, sort_column text DEFAULT 'name', sort_order text DEFAULT 'asc', search text DEFAULT '')
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  WITH base AS (
    SELECT CASE WHEN prefix = '' OR right(prefix, 1) = '/' THEN prefix ELSE prefix || '/' END AS p
  ),
  entries AS (
    SELECT split_part(substr(o.name, length(b.p) + 1), '/', 1) AS entry,
           strpos(substr(o.name, length(b.p) + 1), '/') > 0 AS is_folder, o.*
    FROM bknd.objects o, base b
    WHERE o.bucket_id = bucket AND o.status = 'ready' AND left(o.name, length(b.p)) = b.p
  ),
  listed AS (
    SELECT DISTINCT ON (entry, is_folder) entry, is_folder,
           CASE WHEN is_folder THEN NULL ELSE jsonb_build_object(
             'name', entry, 'id', id, 'updated_at', updated_at, 'created_at', created_at,
             'last_accessed_at', last_accessed_at,
             'metadata', jsonb_build_object('eTag', etag, 'size', size, 'mimetype', mime_type,
               'cacheControl', cache_control, 'lastModified', updated_at, 'contentLength', size,
               'httpStatusCode', 200),
             'user_metadata', user_metadata) END AS file,
           updated_at, created_at, last_accessed_at
    FROM entries
    WHERE search = '' OR entry ILIKE '%' || replace(replace(replace(search, '\', '\\'), '%', '\%'), '_', '\_') || '%'
    ORDER BY entry, is_folder
  ),
  ordered AS (
    SELECT *, row_number() OVER (ORDER BY is_folder DESC,
      CASE WHEN lower(sort_order) = 'desc' THEN NULL ELSE
        CASE lower(sort_column) WHEN 'updated_at' THEN to_char(updated_at, 'YYYYMMDDHH24MISSUS')
          WHEN 'created_at' THEN to_char(created_at, 'YYYYMMDDHH24MISSUS')
          WHEN 'last_accessed_at' THEN to_char(last_accessed_at, 'YYYYMMDDHH24MISSUS') ELSE entry END END ASC,
      CASE WHEN lower(sort_order) = 'desc' THEN
        CASE lower(sort_column) WHEN 'updated_at' THEN to_char(updated_at, 'YYYYMMDDHH24MISSUS')
          WHEN 'created_at' THEN to_char(created_at, 'YYYYMMDDHH24MISSUS')
          WHEN 'last_accessed_at' THEN to_char(last_accessed_at, 'YYYYMMDDHH24MISSUS') ELSE entry END END DESC,
      entry) AS ord
    FROM listed
  )
  SELECT coalesce(jsonb_agg(CASE WHEN is_folder THEN jsonb_build_object('name', entry, 'id', NULL,
           'updated_at', NULL, 'created_at', NULL, 'last_accessed_at', NULL, 'metadata', NULL)
         ELSE file END ORDER BY ord), '[]'::jsonb)
  FROM ordered
  WHERE ord > greatest(skip, 0) AND ord <= greatest(skip, 0) + greatest(least(max_rows, 1000), 0)
$$;

-- A pending upload the caller may see (a resumable upload's owner continuing it), or NULL.
CREATE FUNCTION bknd.storage_upload(upload_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- looked up only to write to it (its bytes, then the object, are written as the sidecar): a
  -- caller whose transactions are read-only (a console viewer, View as) continues no upload
  IF current_setting('transaction_read_only') = 'on' THEN
    RAISE EXCEPTION 'cannot continue an upload in a read-only transaction' USING ERRCODE = 'read_only_sql_transaction';
  END IF;
  RETURN (SELECT jsonb_build_object('id', o.id, 'version', o.version, 'bucket', o.bucket_id, 'name', o.name,
    'mime_type', o.mime_type, 'size_limit', (SELECT b.file_size_limit FROM bknd.buckets b WHERE b.id = o.bucket_id))
  FROM bknd.objects o WHERE o.id = upload_id AND o.status = 'pending');
END
$$;

-- Pending uploads older than `older_than_seconds` are abandoned: remove their rows and answer
-- [{bucket, version}] so the sidecar deletes their bytes. The sidecar's role only.
CREATE FUNCTION bknd.storage_expire_uploads(older_than_seconds integer) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  WITH d AS (
    DELETE FROM bknd.objects WHERE status = 'pending' AND created_at < now() - make_interval(secs => older_than_seconds)
    RETURNING bucket_id, version
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('bucket', bucket_id, 'version', version)), '[]'::jsonb) FROM d
$$;

-- Bytes no row points at any more: a deleted object's, whoever deleted it (the storage API, or
-- anyone the policies let delete rows, from psql or through a table that cascades). The
-- sidecar deletes the bytes (at start and every minute), then the entries here. Since 0.4.0.
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

-- Buckets as storage-js reads them, for the caller (RLS: public buckets to API keys, every
-- bucket to service_role). The sidecar calls these instead of reading bknd.buckets.
CREATE FUNCTION bknd.list_buckets() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'name', id, 'owner', owner_id, 'public', public,
    'file_size_limit', file_size_limit, 'allowed_mime_types', allowed_mime_types, 'created_at', created_at,
    'updated_at', updated_at) ORDER BY id), '[]')
  FROM bknd.buckets
$$;

-- One bucket, or NULL when it does not exist or the caller may not see it.
CREATE FUNCTION bknd.get_bucket(bucket_id text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('id', id, 'name', id, 'owner', owner_id, 'public', public,
    'file_size_limit', file_size_limit, 'allowed_mime_types', allowed_mime_types, 'created_at', created_at,
    'updated_at', updated_at)
  FROM bknd.buckets WHERE id = bucket_id
$$;
