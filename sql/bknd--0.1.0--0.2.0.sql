-- bknd 0.1.0 -> 0.2.0: OAuth / OIDC sign-in; storage (buckets, objects, signed URLs).
-- The same objects a fresh 0.2.0 install creates (tests/tests/upgrade.rs compares the two).
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.2.0'" to load this file. \quit

-- the storage secret joins the key store
ALTER TABLE bknd.secrets DROP CONSTRAINT secrets_name_check;
ALTER TABLE bknd.secrets ADD CONSTRAINT secrets_name_check CHECK (name IN ('jwt_secret', 'jwks', 'jwt_hs_enabled', 'storage_secret'));

-- sql/oauth.sql
CREATE TABLE bknd.oauth_providers (
  name text PRIMARY KEY CONSTRAINT oauth_providers_name_check CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
  -- 'github' (OAuth 2 and the GitHub API) or 'oidc' (discovery from the issuer)
  kind text NOT NULL CONSTRAINT oauth_providers_kind_check CHECK (kind IN ('github', 'oidc')),
  client_id text NOT NULL,
  client_secret text NOT NULL,
  issuer text,
  -- explicit endpoints; for 'oidc' they override what discovery finds
  authorize_url text,
  token_url text,
  userinfo_url text,
  scopes text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per /authorize: the `state` (hashed), the PKCE verifier bknd uses with the provider,
-- and what to do with the session (redirect_to, or the app's own PKCE challenge).
CREATE TABLE bknd.oauth_states (
  id bigserial PRIMARY KEY,
  state_hash bytea NOT NULL UNIQUE,
  provider text NOT NULL REFERENCES bknd.oauth_providers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  provider_verifier text NOT NULL,
  redirect_to text,
  code_challenge text,
  code_challenge_method text,
  created_at timestamptz NOT NULL DEFAULT now(),
  taken_at timestamptz,
  completed_at timestamptz
);
CREATE INDEX oauth_states_created_at_idx ON bknd.oauth_states (created_at);

REVOKE ALL ON bknd.oauth_providers, bknd.oauth_states FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('bknd.oauth_providers', '');

-- sql/storage.sql
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
  last_accessed_at timestamptz NOT NULL DEFAULT now()
);
-- one ready object per name; pending uploads (an upsert in flight) may coexist with it
CREATE UNIQUE INDEX objects_bucket_name_ready_idx ON bknd.objects (bucket_id, name) WHERE status = 'ready';
CREATE INDEX objects_bucket_name_idx ON bknd.objects (bucket_id, name text_pattern_ops);
CREATE INDEX objects_pending_idx ON bknd.objects (created_at) WHERE status = 'pending';

ALTER TABLE bknd.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.objects ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.buckets, bknd.objects FROM PUBLIC;
-- buckets: anyone with an API key may see them; service_role (BYPASSRLS) manages them
GRANT SELECT ON bknd.buckets TO anon, authenticated, service_role;
GRANT INSERT, UPDATE, DELETE ON bknd.buckets TO service_role;
CREATE POLICY bknd_buckets_visible ON bknd.buckets FOR SELECT USING (true);
-- objects: what the policies allow, on the columns a client may set
GRANT SELECT, DELETE ON bknd.objects TO anon, authenticated, service_role;
GRANT INSERT (id, bucket_id, name, user_metadata, mime_type, cache_control) ON bknd.objects TO anon, authenticated, service_role;
GRANT UPDATE (bucket_id, name, user_metadata, updated_at, last_accessed_at) ON bknd.objects TO anon, authenticated, service_role;

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
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('id', o.id, 'version', o.version, 'bucket', o.bucket_id, 'name', o.name,
    'mime_type', o.mime_type, 'size_limit', (SELECT b.file_size_limit FROM bknd.buckets b WHERE b.id = o.bucket_id))
  FROM bknd.objects o WHERE o.id = upload_id AND o.status = 'pending'
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

-- the Rust functions new in 0.2.0
CREATE  FUNCTION "allow_storage"(
	"bucket" TEXT, /* & str */
	"operations" TEXT, /* & str */
	"to_role" TEXT DEFAULT 'authenticated', /* & str */
	"rule" TEXT DEFAULT 'true' /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'allow_storage_wrapper';

CREATE  FUNCTION "configure_oauth_provider"(
	"name" TEXT, /* & str */
	"client_id" TEXT, /* & str */
	"client_secret" TEXT, /* & str */
	"issuer" TEXT DEFAULT NULL, /* Option < & str > */
	"kind" TEXT DEFAULT NULL, /* Option < & str > */
	"scopes" TEXT DEFAULT NULL, /* Option < & str > */
	"authorize_url" TEXT DEFAULT NULL, /* Option < & str > */
	"token_url" TEXT DEFAULT NULL, /* Option < & str > */
	"userinfo_url" TEXT DEFAULT NULL, /* Option < & str > */
	"enabled" bool DEFAULT true /* bool */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'configure_oauth_provider_wrapper';

CREATE  FUNCTION "create_bucket"(
	"name" TEXT, /* & str */
	"public" bool DEFAULT false, /* bool */
	"file_size_limit" bigint DEFAULT NULL, /* Option < i64 > */
	"allowed_mime_types" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < String > > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'create_bucket_wrapper';

CREATE  FUNCTION "delete_bucket"(
	"name" TEXT /* & str */
) RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'delete_bucket_wrapper';

CREATE  FUNCTION "empty_bucket"(
	"name" TEXT /* & str */
) RETURNS TEXT[] /* Vec < String > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'empty_bucket_wrapper';

CREATE  FUNCTION "oauth_begin"(
	"provider" TEXT, /* & str */
	"redirect_to" TEXT DEFAULT NULL, /* Option < & str > */
	"code_challenge" TEXT DEFAULT NULL, /* Option < & str > */
	"code_challenge_method" TEXT DEFAULT NULL, /* Option < & str > */
	"ip" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'oauth_begin_wrapper';

CREATE  FUNCTION "oauth_complete"(
	"state" TEXT, /* & str */
	"identity" jsonb, /* pgrx :: JsonB */
	"ip" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'oauth_complete_wrapper';

CREATE  FUNCTION "oauth_take_state"(
	"state" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'oauth_take_state_wrapper';

CREATE  FUNCTION "remove_oauth_provider"(
	"name" TEXT /* & str */
) RETURNS bool /* bool */
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'remove_oauth_provider_wrapper';

CREATE  FUNCTION "storage_abort_upload"(
	"id" uuid /* pgrx :: Uuid */
) RETURNS TEXT /* Option < String > */
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_abort_upload_wrapper';

CREATE  FUNCTION "storage_begin_copy"(
	"bucket" TEXT, /* & str */
	"from" TEXT, /* & str */
	"to" TEXT, /* & str */
	"to_bucket" TEXT DEFAULT NULL, /* Option < & str > */
	"upsert" bool DEFAULT false /* bool */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_begin_copy_wrapper';

CREATE  FUNCTION "storage_begin_upload"(
	"bucket" TEXT, /* & str */
	"name" TEXT, /* & str */
	"upsert" bool DEFAULT false, /* bool */
	"mime_type" TEXT DEFAULT NULL, /* Option < & str > */
	"size" bigint DEFAULT NULL, /* Option < i64 > */
	"user_metadata" jsonb DEFAULT NULL, /* Option < pgrx :: JsonB > */
	"cache_control" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_begin_upload_wrapper';

CREATE  FUNCTION "storage_finish_upload"(
	"id" uuid, /* pgrx :: Uuid */
	"size" bigint, /* i64 */
	"etag" TEXT, /* & str */
	"upsert" bool, /* bool */
	"mime_type" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_finish_upload_wrapper';

CREATE  FUNCTION "storage_move"(
	"bucket" TEXT, /* & str */
	"from" TEXT, /* & str */
	"to" TEXT, /* & str */
	"to_bucket" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_move_wrapper';

CREATE  FUNCTION "storage_object"(
	"bucket" TEXT, /* & str */
	"name" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_object_wrapper';

CREATE  FUNCTION "storage_public_object"(
	"bucket" TEXT, /* & str */
	"name" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_public_object_wrapper';

CREATE  FUNCTION "storage_remove"(
	"bucket" TEXT, /* & str */
	"names" TEXT[] /* Vec < String > */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_remove_wrapper';

CREATE  FUNCTION "storage_sign"(
	"bucket" TEXT, /* & str */
	"name" TEXT, /* & str */
	"operation" TEXT DEFAULT 'download', /* & str */
	"expires_in" INT DEFAULT 3600, /* i32 */
	"upsert" bool DEFAULT false /* bool */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_sign_wrapper';

CREATE  FUNCTION "storage_verify"(
	"token" TEXT, /* & str */
	"operation" TEXT, /* & str */
	"bucket" TEXT, /* & str */
	"name" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_verify_wrapper';

CREATE  FUNCTION "update_bucket"(
	"name" TEXT, /* & str */
	"changes" jsonb /* pgrx :: JsonB */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'update_bucket_wrapper';

-- as finalize.sql does for a fresh install: nothing is callable by PUBLIC unless granted
REVOKE EXECUTE ON FUNCTION
  bknd.allow_storage(text, text, text, text),
  bknd.configure_oauth_provider(text, text, text, text, text, text, text, text, text, boolean),
  bknd.create_bucket(text, boolean, bigint, text[]),
  bknd.delete_bucket(text),
  bknd.empty_bucket(text),
  bknd.oauth_begin(text, text, text, text, text),
  bknd.oauth_complete(text, jsonb, text),
  bknd.oauth_take_state(text),
  bknd.remove_oauth_provider(text),
  bknd.storage_abort_upload(uuid),
  bknd.storage_begin_copy(text, text, text, text, boolean),
  bknd.storage_begin_upload(text, text, boolean, text, bigint, jsonb, text),
  bknd.storage_finish_upload(uuid, bigint, text, boolean, text),
  bknd.storage_move(text, text, text, text),
  bknd.storage_object(text, text),
  bknd.storage_public_object(text, text),
  bknd.storage_remove(text, text[]),
  bknd.storage_sign(text, text, text, int, boolean),
  bknd.storage_verify(text, text, text, text),
  bknd.update_bucket(text, jsonb),
  bknd.foldername(text),
  bknd.filename(text),
  bknd.extension(text),
  bknd.storage_list(text, text, integer, integer, text, text, text),
  bknd.storage_upload(uuid),
  bknd.storage_expire_uploads(integer)
FROM PUBLIC;
-- OAuth: they hand out the provider's client secret and sessions for a provider's word
GRANT EXECUTE ON FUNCTION bknd.oauth_begin(text, text, text, text, text), bknd.oauth_take_state(text),
  bknd.oauth_complete(text, jsonb, text)
TO authenticator;
-- Storage: buckets by those who may write bknd.buckets (service_role); objects as the caller,
-- under the policies bknd.allow_storage writes; finishing uploads is the sidecar's alone.
GRANT EXECUTE ON FUNCTION
  bknd.foldername(text), bknd.filename(text), bknd.extension(text),
  bknd.storage_list(text, text, integer, integer, text, text, text),
  bknd.storage_object(text, text), bknd.storage_public_object(text, text),
  bknd.storage_begin_upload(text, text, boolean, text, bigint, jsonb, text),
  bknd.storage_move(text, text, text, text), bknd.storage_begin_copy(text, text, text, text, boolean),
  bknd.storage_remove(text, text[]), bknd.storage_sign(text, text, text, integer, boolean),
  bknd.storage_verify(text, text, text, text), bknd.storage_upload(uuid)
TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION
  bknd.create_bucket(text, boolean, bigint, text[]), bknd.update_bucket(text, jsonb),
  bknd.empty_bucket(text), bknd.delete_bucket(text), bknd.allow_storage(text, text, text, text)
TO service_role;
GRANT EXECUTE ON FUNCTION bknd.storage_finish_upload(uuid, bigint, text, boolean, text), bknd.storage_abort_upload(uuid),
  bknd.storage_expire_uploads(integer)
TO authenticator;

INSERT INTO bknd.secrets (name, value) VALUES ('storage_secret', bknd.generate_secret());
