-- bknd 0.5.0 -> 0.6.0: one request engine in the sidecar (issue 16). The sidecar no longer
-- reads bknd.* tables itself: it calls these functions, under the caller's role.
-- The same objects a fresh 0.6.0 install creates (tests/tests/upgrade.rs compares the two).
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.6.0'" to load this file. \quit

-- == storage ==
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
REVOKE EXECUTE ON FUNCTION bknd.list_buckets(), bknd.get_bucket(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.list_buckets(), bknd.get_bucket(text) TO anon, authenticated, service_role;

-- == tables ==
-- The newest schema changes first, for those who may read bknd.schema_history (service_role):
-- the sidecar (MCP, the console) calls this instead of reading the table.
CREATE FUNCTION bknd.schema_history(max_rows integer DEFAULT 50) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(h ORDER BY h.id DESC), '[]')
  FROM (SELECT id, at, by_role, by_sub, operation, arguments, ddl
        FROM bknd.schema_history ORDER BY id DESC LIMIT least(greatest(max_rows, 0), 1000)) h
$$;
REVOKE EXECUTE ON FUNCTION bknd.schema_history(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.schema_history(integer) TO service_role;
