-- bknd.advisors: security and performance findings about the objects of the API's schemas
-- ($1, text[]) that the caller may use, each with a level (error, warn, info), what is wrong
-- and the fix as SQL. Runs as the caller: a user's token sees findings only about what it may
-- reach.
WITH tables AS (
  SELECT c.oid, c.relname, n.nspname, c.relrowsecurity AS rls,
         format('%I.%I', n.nspname, c.relname) AS qualified,
         CASE WHEN n.nspname = 'public' THEN c.relname::text ELSE n.nspname || '.' || c.relname END AS name,
         (SELECT array_agg(r.rolname::text ORDER BY r.rolname) FROM pg_roles r
          WHERE r.rolname IN ('anon', 'authenticated')
            AND has_table_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE')) AS api_roles
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p')
    AND has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')
),
owned AS (
  SELECT t.oid, min(a.attname::text) AS owner_column FROM tables t
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  -- the column bknd.create_table makes and bknd.allow's rule `owner` checks
  WHERE a.attname = 'owner_id' AND a.atttypid = 'uuid'::regtype
  GROUP BY t.oid
),
findings AS (
  -- RLS off on a table the API roles may reach: every row to everyone with the grant
  SELECT 'error' AS level, 'rls_disabled' AS kind, t.name AS object,
         format('Row-level security is off on %s, and %s may use it through the API: every row is open to them.', t.name, array_to_string(t.api_roles, ' and ')) AS description,
         format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY;', t.qualified) AS fix
  FROM tables t WHERE NOT t.rls AND t.api_roles IS NOT NULL
  UNION ALL
  -- RLS on, granted, but no policy: nobody but service_role gets a row
  SELECT 'info', 'rls_no_policy', t.name,
         format('%s has RLS on and no policy: only service_role reaches its rows (the API roles get none).', t.name),
         format('SELECT bknd.allow(%L, ''select'', ''authenticated'', %L);', t.name, CASE WHEN o.owner_column IS NOT NULL THEN 'owner' ELSE 'true' END)
  FROM tables t LEFT JOIN owned o ON o.oid = t.oid
  WHERE t.rls AND t.api_roles IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = t.oid)
  UNION ALL
  -- a `true` policy for anon (or everyone) on a table whose rows belong to users
  SELECT 'warn', 'anon_true_policy', t.name,
         format('Policy %I lets %s %s every row of %s, whose rows belong to users (column %s).', p.polname,
                CASE WHEN p.polroles = '{0}' THEN 'everyone' ELSE 'anon' END,
                CASE p.polcmd WHEN 'r' THEN 'read' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'do anything with' END,
                t.name, o.owner_column),
         format('DROP POLICY %I ON %s; SELECT bknd.allow(%L, %L, ''authenticated'', ''owner'');', p.polname, t.qualified, t.name,
                CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END)
  FROM tables t JOIN owned o ON o.oid = t.oid JOIN pg_policy p ON p.polrelid = t.oid
  WHERE (p.polroles = '{0}' OR (SELECT oid FROM pg_roles WHERE rolname = 'anon') = ANY (p.polroles))
    AND p.polpermissive
    AND coalesce(pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), 'true') = 'true'
  UNION ALL
  -- SECURITY DEFINER functions the API roles may call (through /rpc): they run as their owner
  SELECT 'warn', 'security_definer_function', format('%s(%s)', CASE WHEN n.nspname = 'public' THEN f.proname::text ELSE n.nspname || '.' || f.proname END, pg_get_function_identity_arguments(f.oid)),
         format('%s.%s runs as its owner (SECURITY DEFINER) and anon or authenticated may call it through /rest/v1/rpc: it bypasses their policies.', n.nspname, f.proname),
         format('REVOKE EXECUTE ON FUNCTION %I.%I(%s) FROM PUBLIC, anon, authenticated;', n.nspname, f.proname, pg_get_function_identity_arguments(f.oid))
  FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace
  WHERE n.nspname = ANY ($1) AND f.prosecdef AND f.prokind = 'f'
    AND has_function_privilege(f.oid, 'EXECUTE')
    AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated') AND has_function_privilege(r.oid, f.oid, 'EXECUTE'))
  UNION ALL
  -- a foreign key whose columns lead no index: joins and cascades scan the table
  SELECT 'info', 'unindexed_foreign_key', t.name,
         format('The foreign key %I on %s (%s) has no index: embedding and deleting the referenced rows scan %s.', k.conname, t.name, cols.list, t.name),
         format('CREATE INDEX ON %s (%s);', t.qualified, cols.list)
  FROM tables t JOIN pg_constraint k ON k.conrelid = t.oid AND k.contype = 'f'
  CROSS JOIN LATERAL (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY x.i) AS list
                      FROM unnest(k.conkey) WITH ORDINALITY x(attnum, i)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.attnum) cols
  WHERE NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid
                      AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] @> k.conkey
                      AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] <@ k.conkey)
  UNION ALL
  -- the same index twice: every write pays for both
  SELECT 'warn', 'duplicate_index', t.name,
         format('Indexes %I and %I on %s are the same; every write maintains both.', a.relname, b.relname, t.name),
         format('DROP INDEX %I.%I;', t.nspname, b.relname)
  FROM tables t JOIN pg_index ia ON ia.indrelid = t.oid JOIN pg_class a ON a.oid = ia.indexrelid
  JOIN pg_index ib ON ib.indrelid = t.oid AND ib.indexrelid > ia.indexrelid JOIN pg_class b ON b.oid = ib.indexrelid
  WHERE ia.indkey = ib.indkey AND ia.indclass = ib.indclass AND ia.indcollation = ib.indcollation
    AND ia.indisunique = ib.indisunique
    AND coalesce(pg_get_expr(ia.indexprs, t.oid), '') = coalesce(pg_get_expr(ib.indexprs, t.oid), '')
    AND coalesce(pg_get_expr(ia.indpred, t.oid), '') = coalesce(pg_get_expr(ib.indpred, t.oid), '')
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ib.indexrelid)
  UNION ALL
  -- an index never used on a table big enough for it to matter
  SELECT 'info', 'unused_index', t.name,
         format('Index %I on %s has not been used since statistics were reset, on %s rows; it costs every write.', s.indexrelname, t.name, s2.n_live_tup),
         format('DROP INDEX %I.%I;', t.nspname, s.indexrelname)
  FROM tables t JOIN pg_stat_user_indexes s ON s.relid = t.oid JOIN pg_stat_user_tables s2 ON s2.relid = t.oid
  JOIN pg_index i ON i.indexrelid = s.indexrelid
  WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND s2.n_live_tup >= 10000
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
  UNION ALL
  -- public buckets: anyone with a file's URL downloads it
  SELECT 'info', 'public_bucket', b.id,
         format('Bucket %s is public: anyone with a file''s URL downloads it, whatever its policies say.', b.id),
         format('SELECT bknd.update_bucket(%L, ''{"public": false}'');', b.id)
  FROM bknd.buckets b WHERE b.public
)
SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY CASE f.level WHEN 'error' THEN 0 WHEN 'warn' THEN 1 ELSE 2 END, f.kind, f.object), '[]'::jsonb)
FROM findings f
