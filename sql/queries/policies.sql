-- bknd.policies: the RLS policies of one table. $1 = the table's oid.
SELECT coalesce(jsonb_agg(jsonb_build_object(
    'name', p.polname,
    'command', CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                 WHEN 'd' THEN 'delete' ELSE 'all' END,
    'roles', CASE WHEN p.polroles = '{0}' THEN '["public"]'::jsonb
                  ELSE (SELECT jsonb_agg(r.rolname ORDER BY r.rolname)
                        FROM pg_catalog.pg_roles r WHERE r.oid = ANY (p.polroles)) END,
    'permissive', p.polpermissive,
    'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
    'with_check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
    'managed', p.polname LIKE 'bknd\_%'
  ) ORDER BY p.polname), '[]'::jsonb)
FROM pg_catalog.pg_policy p
WHERE p.polrelid = $1
