-- bknd.list_tables: user tables outside the system schemas and not part of any extension.
SELECT coalesce(jsonb_agg(jsonb_build_object(
    'schema', n.nspname,
    'name', c.relname,
    'rls_enabled', c.relrowsecurity,
    -- the planner's figure, or the statistics collector's live rows for a table changed since
    -- it was last analyzed (or never analyzed: reltuples -1): never a count
    'rows_estimate', greatest(CASE WHEN c.reltuples < 0 OR pg_catalog.pg_stat_get_mod_since_analyze(c.oid) > 0
                                   THEN pg_catalog.pg_stat_get_live_tuples(c.oid) ELSE c.reltuples END, 0)::bigint,
    'description', pg_catalog.obj_description(c.oid, 'pg_class')
  ) ORDER BY n.nspname, c.relname), '[]'::jsonb)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('bknd', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend dep
    WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')
