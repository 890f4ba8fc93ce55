-- The REST schema cache: relations, columns, keys and functions of the exposed schemas.
-- $1 = the exposed schemas (text[]). One row, one jsonb document.
WITH rels AS (
  SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind,
         pg_catalog.obj_description(c.oid, 'pg_class') AS description
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
),
cols AS (
  SELECT a.attrelid,
         jsonb_agg(jsonb_build_object(
           'name', a.attname,
           'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
           'nullable', NOT a.attnotnull,
           'has_default', a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
           'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
           'description', pg_catalog.col_description(a.attrelid, a.attnum)
         ) ORDER BY a.attnum) AS columns
  FROM pg_catalog.pg_attribute a
  JOIN rels r ON r.oid = a.attrelid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped
  GROUP BY a.attrelid
),
keys AS (
  -- primary keys and unique constraints / indexes, as lists of column names
  SELECT i.indrelid,
         bool_or(i.indisprimary) FILTER (WHERE i.indisprimary) AS has_pk,
         (array_agg(cols ORDER BY i.indisprimary DESC) FILTER (WHERE i.indisprimary))[1] AS pk,
         jsonb_agg(cols) AS uniques
  FROM pg_catalog.pg_index i
  JOIN rels r ON r.oid = i.indrelid
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(a.attname ORDER BY k.ord) AS cols
    FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  ) c
  WHERE i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
  GROUP BY i.indrelid
),
fks AS (
  SELECT jsonb_agg(jsonb_build_object(
    'name', f.conname,
    'schema', r.schema, 'table', r.name,
    'columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum),
    'ref_schema', t.schema, 'ref_table', t.name,
    'ref_columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord) FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum)
  ) ORDER BY f.conname) AS list
  FROM pg_catalog.pg_constraint f
  JOIN rels r ON r.oid = f.conrelid
  JOIN rels t ON t.oid = f.confrelid
  WHERE f.contype = 'f'
),
funcs AS (
  SELECT jsonb_agg(jsonb_build_object(
    'oid', p.oid::int8, 'schema', n.nspname, 'name', p.proname,
    'args', coalesce((
      SELECT jsonb_agg(jsonb_build_object('name', coalesce(a.name, ''), 'type', pg_catalog.format_type(a.type, NULL),
                                          'variadic', a.mode = 'v') ORDER BY a.ord)
      FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargnames,
                  coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[coalesce(array_length(p.proargtypes::oid[], 1), 0)])))
           WITH ORDINALITY AS a(type, name, mode, ord)
      WHERE a.mode IN ('i', 'b', 'v')), '[]'::jsonb),
    'defaults', p.pronargdefaults,
    'returns', pg_catalog.format_type(p.prorettype, NULL),
    'returns_set', p.proretset,
    'return_kind', CASE WHEN t.typname = 'void' THEN 'void'
                        WHEN t.typtype = 'c' OR t.oid = 'record'::regtype THEN 'composite'
                        ELSE 'scalar' END,
    'return_schema', rn.nspname, 'return_table', rc.relname,
    'volatile', p.provolatile = 'v',
    'description', pg_catalog.obj_description(p.oid, 'pg_proc')
  ) ORDER BY p.proname) AS list
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_type t ON t.oid = p.prorettype
  LEFT JOIN pg_catalog.pg_class rc ON rc.oid = t.typrelid
  LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
  WHERE n.nspname = ANY ($1::text[]) AND p.prokind IN ('f', 'p')
)
SELECT jsonb_build_object(
  'relations', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'oid', r.oid::int8, 'schema', r.schema, 'name', r.name, 'is_view', r.relkind IN ('v', 'm'),
      'description', r.description,
      'columns', coalesce(c.columns, '[]'::jsonb),
      'pk', coalesce(k.pk, '[]'::jsonb),
      'uniques', coalesce(k.uniques, '[]'::jsonb)
    ) ORDER BY r.schema, r.name)
    FROM rels r LEFT JOIN cols c ON c.attrelid = r.oid LEFT JOIN keys k ON k.indrelid = r.oid), '[]'::jsonb),
  'foreign_keys', coalesce((SELECT list FROM fks), '[]'::jsonb),
  'functions', coalesce((SELECT list FROM funcs), '[]'::jsonb)
)::text
