-- bknd.describe_table: one table as JSON. $1 = the table's oid.
SELECT jsonb_build_object(
  'schema', n.nspname,
  'name', c.relname,
  'description', pg_catalog.obj_description(c.oid, 'pg_class'),
  'rls_enabled', c.relrowsecurity,
  -- publishes its changes to realtime subscribers (bknd.enable_realtime)
  'realtime', EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = c.oid AND tg.tgname = 'bknd_realtime'),
  'columns', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'name', a.attname,
        'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
        'nullable', NOT a.attnotnull,
        'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
        'identity', a.attidentity <> '',
        'description', pg_catalog.col_description(c.oid, a.attnum)
      ) ORDER BY a.attnum), '[]'::jsonb)
    FROM pg_catalog.pg_attribute a
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  'primary_key', (
    SELECT coalesce(jsonb_agg(a.attname ORDER BY k.ord), '[]'::jsonb)
    FROM pg_catalog.pg_constraint p
    CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum
    WHERE p.conrelid = c.oid AND p.contype = 'p'),
  'foreign_keys', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'name', f.conname,
        'columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord)
                    FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum),
        'references', jsonb_build_object(
          'schema', rn.nspname, 'table', r.relname,
          'columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord)
                      FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_catalog.pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum)),
        'on_delete', CASE f.confdeltype WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null'
                       WHEN 'r' THEN 'restrict' WHEN 'd' THEN 'set default' ELSE 'no action' END
      ) ORDER BY f.conname), '[]'::jsonb)
    FROM pg_catalog.pg_constraint f
    JOIN pg_catalog.pg_class r ON r.oid = f.confrelid
    JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
    WHERE f.conrelid = c.oid AND f.contype = 'f'),
  'checks', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'name', k.conname, 'definition', pg_catalog.pg_get_constraintdef(k.oid)) ORDER BY k.conname), '[]'::jsonb)
    FROM pg_catalog.pg_constraint k
    WHERE k.conrelid = c.oid AND k.contype IN ('c', 'u')),
  'indexes', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'name', ic.relname, 'unique', i.indisunique, 'primary', i.indisprimary,
        'definition', pg_catalog.pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname), '[]'::jsonb)
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = c.oid)
)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = $1
