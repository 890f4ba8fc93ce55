//! What an AI agent (or any client) needs to know before it builds on this database, as the
//! caller: its role and user, and the tables of the API's schemas it has any privilege on, with
//! what it may do, their columns and the policies that decide which rows. Nothing the caller
//! could not find out by itself; the MCP server's `get_context` adds the URLs and keys. And
//! what the API's schemas hold, for the TypeScript types an app's client is written against.

use pgrx::prelude::*;
use serde_json::json;

use crate::errors;

/// `{role, user_id, tables: [{table, rls, can: [select|insert|update|delete], columns: [{name,
/// type, nullable, has_default}], policies: [{name, command, roles, using, with_check}]}]}` for
/// the tables and views of `schemas` (the API's exposed schemas) the caller may use.
#[pg_extern(stable, strict, parallel_safe)]
fn agent_context(schemas: Vec<String>) -> pgrx::JsonB {
    let sql = "SELECT jsonb_build_object( \
         'role', current_user::text, \
         'user_id', bknd.uid(), \
         'tables', coalesce((SELECT jsonb_agg(t ORDER BY t->>'table') FROM ( \
           SELECT jsonb_build_object( \
             'table', CASE WHEN n.nspname = 'public' THEN c.relname::text ELSE n.nspname || '.' || c.relname END, \
             'kind', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END, \
             'rls', c.relrowsecurity, \
             'can', to_jsonb(array_remove(ARRAY[ \
               CASE WHEN has_table_privilege(c.oid, 'SELECT') THEN 'select' END, \
               CASE WHEN has_table_privilege(c.oid, 'INSERT') THEN 'insert' END, \
               CASE WHEN has_table_privilege(c.oid, 'UPDATE') THEN 'update' END, \
               CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'delete' END], NULL)), \
             'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), \
                            'nullable', NOT a.attnotnull, 'has_default', a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') \
                          ORDER BY a.attnum), '[]') \
                         FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), \
             'policies', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.polname, \
                            'command', CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update' \
                                         WHEN 'd' THEN 'delete' ELSE 'all' END, \
                            'roles', CASE WHEN p.polroles = '{0}' THEN '[\"public\"]'::jsonb \
                                       ELSE (SELECT jsonb_agg(r.rolname ORDER BY r.rolname) FROM pg_roles r WHERE r.oid = ANY (p.polroles)) END, \
                            'using', pg_get_expr(p.polqual, p.polrelid), 'with_check', pg_get_expr(p.polwithcheck, p.polrelid)) \
                          ORDER BY p.polname), '[]') \
                         FROM pg_policy p WHERE p.polrelid = c.oid)) AS t \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p', 'v', 'm') \
             AND has_schema_privilege(n.oid, 'USAGE') \
             AND has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')) x), '[]'::jsonb))";
    let found = errors::spi(crate::plans::get_one::<pgrx::JsonB>(sql, &[schemas.into()]));
    found.unwrap_or(pgrx::JsonB(json!({})))
}

const API_SCHEMA: &str = include_str!("../sql/queries/api_schema.sql");

/// What `schemas` hold for the caller, for the TypeScript types supabase-js takes:
/// `{SCHEMA: {tables: [{name, columns, relationships}], views, functions, enums}}`.
#[pg_extern(stable, strict, parallel_safe)]
fn api_schema(schemas: Vec<String>) -> pgrx::JsonB {
    let found = errors::spi(crate::plans::get_one::<pgrx::JsonB>(API_SCHEMA, &[schemas.into()]));
    found.unwrap_or(pgrx::JsonB(json!({})))
}
