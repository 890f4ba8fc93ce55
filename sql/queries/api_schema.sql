-- bknd.api_schema: what the API's schemas ($1, text[]) hold for the caller, as the TypeScript
-- types supabase-js takes are made from it (sidecar/src/typescript.rs): tables and views with
-- their columns, foreign keys, functions the caller may call, enums. As the caller: only what
-- it may use.
WITH rels AS (
  SELECT c.oid, c.relname::text AS name, n.nspname::text AS schema, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    AND has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')
),
cols AS (
  SELECT r.oid, jsonb_agg(jsonb_build_object(
      'name', a.attname,
      'type', CASE WHEN et.oid IS NOT NULL THEN et.typname ELSE bt.typname END,
      'type_schema', CASE WHEN et.oid IS NOT NULL THEN etn.nspname ELSE btn.nspname END,
      'enum', coalesce(et.typtype, bt.typtype) = 'e',
      'array', et.oid IS NOT NULL,
      'nullable', NOT a.attnotnull,
      'has_default', a.atthasdef OR a.attidentity <> '',
      'identity_always', a.attidentity = 'a',
      'generated', a.attgenerated <> '',
      'updatable', r.relkind IN ('r', 'p', 'f') OR pg_column_is_updatable(r.oid, a.attnum, false)
    ) ORDER BY a.attname) AS columns
  FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t0 ON t0.oid = a.atttypid
  -- a domain stands for its base type
  JOIN pg_type t ON t.oid = CASE WHEN t0.typtype = 'd' THEN t0.typbasetype ELSE t0.oid END
  LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
  LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
  JOIN pg_type bt ON bt.oid = t.oid JOIN pg_namespace btn ON btn.oid = bt.typnamespace
  GROUP BY r.oid
),
fks AS (
  SELECT k.conrelid AS oid, jsonb_agg(jsonb_build_object(
      'name', k.conname,
      'columns', (SELECT jsonb_agg(a.attname ORDER BY x.i) FROM unnest(k.conkey) WITH ORDINALITY x(n, i)
                  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n),
      'one_to_one', EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid AND i.indisunique
                              AND (i.indkey::int2[]) @> k.conkey AND (i.indkey::int2[]) <@ k.conkey),
      'referenced', rc.relname,
      'referenced_schema', rn.nspname,
      'referenced_columns', (SELECT jsonb_agg(a.attname ORDER BY x.i) FROM unnest(k.confkey) WITH ORDINALITY x(n, i)
                             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.n)
    ) ORDER BY k.conname) AS relationships
  FROM pg_constraint k JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  WHERE k.contype = 'f' AND k.conrelid IN (SELECT oid FROM rels)
  GROUP BY k.conrelid
),
funcs AS (
  SELECT n.nspname::text AS schema, jsonb_agg(jsonb_build_object(
      'name', f.proname,
      'args', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', x.name, 'type', t.typname, 'array', t.typcategory = 'A',
                                                            'element', et.typname, 'has_default', x.i > f.pronargs - f.pronargdefaults)
                                         ORDER BY x.i), '[]')
               FROM unnest(f.proargnames[1:f.pronargs], f.proargtypes::oid[]) WITH ORDINALITY x(name, type, i)
               JOIN pg_type t ON t.oid = x.type LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'),
      'returns', rt.typname,
      'returns_schema', rtn.nspname,
      'returns_table', rt.typrelid <> 0,
      'returns_array', rt.typcategory = 'A',
      'returns_element', ret.typname,
      'returns_set', f.proretset
    ) ORDER BY f.proname, f.oid) AS functions
  FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace
  JOIN pg_type rt ON rt.oid = f.prorettype JOIN pg_namespace rtn ON rtn.oid = rt.typnamespace
  LEFT JOIN pg_type ret ON ret.oid = rt.typelem AND rt.typcategory = 'A'
  WHERE n.nspname = ANY ($1) AND f.prokind = 'f' AND has_function_privilege(f.oid, 'EXECUTE')
    -- PostgREST calls functions by their arguments' names
    AND (f.pronargs = 0 OR (f.proargnames IS NOT NULL AND NOT '' = ANY (f.proargnames[1:f.pronargs])))
    AND rt.typname NOT IN ('trigger', 'event_trigger', 'internal')
    AND NOT EXISTS (SELECT 1 FROM unnest(f.proargmodes) m WHERE m IN ('o', 'b', 't', 'v'))
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = f.oid AND d.deptype = 'e')
  GROUP BY n.nspname
),
enums AS (
  SELECT n.nspname::text AS schema, jsonb_object_agg(t.typname, (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder)
                                                                  FROM pg_enum e WHERE e.enumtypid = t.oid)) AS enums
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = ANY ($1) AND t.typtype = 'e'
  GROUP BY n.nspname
)
SELECT coalesce(jsonb_object_agg(s.name, jsonb_build_object(
    'tables', coalesce((SELECT jsonb_agg(jsonb_build_object('name', r.name, 'columns', coalesce(c.columns, '[]'),
                                                            'relationships', coalesce(k.relationships, '[]')) ORDER BY r.name)
                        FROM rels r LEFT JOIN cols c ON c.oid = r.oid LEFT JOIN fks k ON k.oid = r.oid
                        WHERE r.schema = s.name AND r.relkind IN ('r', 'p', 'f')), '[]'),
    'views', coalesce((SELECT jsonb_agg(jsonb_build_object('name', r.name, 'columns', coalesce(c.columns, '[]'),
                                                           'relationships', coalesce(k.relationships, '[]')) ORDER BY r.name)
                       FROM rels r LEFT JOIN cols c ON c.oid = r.oid LEFT JOIN fks k ON k.oid = r.oid
                       WHERE r.schema = s.name AND r.relkind IN ('v', 'm')), '[]'),
    'functions', coalesce((SELECT f.functions FROM funcs f WHERE f.schema = s.name), '[]'),
    'enums', coalesce((SELECT e.enums FROM enums e WHERE e.schema = s.name), '{}')
  )), '{}')
FROM (SELECT DISTINCT unnest($1) AS name) s
WHERE EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = s.name)
