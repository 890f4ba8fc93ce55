-- What the caller's role may use among the schema cache's objects, for the OpenAPI document
-- (PostgREST's follow-privileges mode). Runs as the caller, inside the request's transaction.
-- $1 = relation oids, $2 = function oids (oid[] literals). One row, one jsonb document:
-- {"relations": {"<oid>": {"select", "insert", "update", "delete", "columns", "readable"}},
--  "functions": [oid]}.
-- An oid the cache still holds after a DROP has no privileges (has_*_privilege answers NULL).
SELECT jsonb_build_object(
  'relations', coalesce((
    SELECT jsonb_object_agg(c.oid::text, jsonb_build_object(
      'select', pg_catalog.has_any_column_privilege(c.oid, 'SELECT'),
      'insert', pg_catalog.has_any_column_privilege(c.oid, 'INSERT'),
      'update', pg_catalog.has_any_column_privilege(c.oid, 'UPDATE'),
      'delete', pg_catalog.has_table_privilege(c.oid, 'DELETE'),
      'columns', coalesce((
        SELECT jsonb_agg(a.attname ORDER BY a.attnum)
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE')), '[]'::jsonb),
      'readable', coalesce((
        SELECT jsonb_agg(a.attname ORDER BY a.attnum)
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')), '[]'::jsonb)))
    FROM pg_catalog.pg_class c
    WHERE c.oid = ANY ($1::oid[])
      AND pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE')
      AND (pg_catalog.has_table_privilege(c.oid, 'DELETE')
           OR pg_catalog.has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE'))), '{}'::jsonb),
  'functions', coalesce((
    SELECT jsonb_agg(p.oid::int8)
    FROM pg_catalog.pg_proc p
    WHERE p.oid = ANY ($2::oid[])
      AND pg_catalog.has_schema_privilege(p.pronamespace, 'USAGE')
      AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')), '[]'::jsonb)
)::text AS body
