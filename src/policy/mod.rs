//! RLS policy generation: `bknd.allow`, `bknd.revoke`, `bknd.policies`.
//!
//! Policies are named `bknd_<operation>_<role>_<rule key>`, so the same call twice finds its
//! policy already there and changes nothing.

mod rule;

use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use crate::ddl::catalog;
use crate::ddl::change::Change;
use crate::ddl::describe::POLICIES;
use crate::ddl::names::{self, quote, TableName};
use crate::errors::{self, Code};
use crate::identity;
use rule::Rule;

const OPERATIONS: [&str; 4] = ["select", "insert", "update", "delete"];

pub(crate) fn parse_operations(text: &str) -> Vec<&'static str> {
    let mut ops = Vec::new();
    for part in text.split(',').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "all" | "*" => ops.extend(OPERATIONS),
            other => match OPERATIONS.iter().find(|o| **o == other) {
                Some(op) => ops.push(*op),
                None => errors::invalid(format!("operation {other:?} is not one of select, insert, update, delete, all")),
            },
        }
    }
    ops.sort_by_key(|op| OPERATIONS.iter().position(|o| o == op));
    ops.dedup();
    ops
}

/// The role a policy applies to: an existing role, or `public`.
pub(crate) fn parse_role(role: &str) -> String {
    if role == "public" {
        return role.into();
    }
    let exists = CString::new(role).map(|c| unsafe { pg_sys::get_role_oid(c.as_ptr(), true) } != pg_sys::InvalidOid).unwrap_or(false);
    if !exists {
        errors::raise(Code::ERRCODE_UNDEFINED_OBJECT, format!("role {:?} does not exist", role));
    }
    role.into()
}

fn policy_name(op: &str, role: &str, rule: &Rule) -> String {
    names::derived(&["bknd", op, role], &rule.key())
}

/// The names of the policies on `table` made by bknd for `op` and `role`.
fn managed_policies(table: pg_sys::Oid, op: &str, role: &str) -> Vec<String> {
    let cmd = match op {
        "select" => "r",
        "insert" => "a",
        "update" => "w",
        _ => "d",
    };
    // the role is a parameter: its name is looked up on every run, never kept in the plan
    let sql = "SELECT coalesce(array_agg(polname::text ORDER BY polname), '{}') FROM pg_catalog.pg_policy \
         WHERE polrelid = $1 AND polcmd = $2::\"char\" AND polname LIKE 'bknd\\_%' \
           AND polroles = ARRAY[CASE WHEN $3 = 'public' THEN 0::oid ELSE $3::regrole::oid END]";
    errors::spi(crate::plans::get_one::<Vec<String>>(sql, &[table.into(), cmd.into(), role.into()])).unwrap_or_default()
}

/// Allow `operations` on `table_name` to `to_role` where `rule` holds.
/// `rule` is a preset (`true`, `owner`, `authenticated`) or an SQL boolean expression, which
/// only superusers and the table's owner may give.
#[pg_extern(volatile, parallel_unsafe)]
fn allow(table_name: &str, operations: &str, to_role: default!(&str, "'authenticated'"), rule: default!(&str, "'true'")) -> JsonB {
    let mut change = Change::begin("allow", json!({"table_name": table_name, "operations": operations, "to_role": to_role, "rule": rule}));
    let table = TableName::parse(table_name, "public");
    let oid = catalog::table(&table);
    let ops = parse_operations(operations);
    let role = parse_role(to_role);
    let rule = Rule::parse(rule);
    match &rule {
        Rule::Owner if !catalog::column_exists(oid, "owner_id") => errors::raise_hint(
            Code::ERRCODE_UNDEFINED_COLUMN,
            format!("the owner rule needs an owner_id column, and {} has none", table.display()),
            "add it with bknd.add_column(table, 'owner_id', '{\"type\": \"uuid\", \"default\": \"bknd.uid()\"}')",
        ),
        Rule::Expression(_) if !(identity::is_superuser() || identity::has_privileges_of(catalog::owner(oid))) => errors::raise_hint(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "only a superuser or the table's owner may write a policy rule as an SQL expression",
            "use one of the presets: true, owner, authenticated",
        ),
        Rule::Expression(e) if e.is_empty() => errors::invalid("rule is empty"),
        _ => {}
    }

    change.push(format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", table.quoted()));
    let mut policies = Vec::new();
    for op in ops {
        let name = policy_name(op, &role, &rule);
        policies.push(name.clone());
        if managed_policies(oid, op, &role).contains(&name) {
            continue;
        }
        let sql = create_policy_sql(&name, &table.quoted(), op, &role, &rule.sql());
        if let Rule::Expression(_) = rule {
            ensure_single_create_policy(&sql);
        }
        change.push(sql);
    }
    change.run();
    JsonB(json!({"table": table.display(), "policies": policies}))
}

/// CREATE POLICY for `op` on `table_sql` (quoted) to `role` where `condition` holds: INSERT
/// gets WITH CHECK, UPDATE both USING and WITH CHECK, the others USING.
pub(crate) fn create_policy_sql(name: &str, table_sql: &str, op: &str, role: &str, condition: &str) -> String {
    let clauses = match op {
        "insert" => format!("WITH CHECK ({condition})"),
        "update" => format!("USING ({condition}) WITH CHECK ({condition})"),
        _ => format!("USING ({condition})"),
    };
    let role_sql = if role == "public" { "public".to_string() } else { quote(role) };
    format!("CREATE POLICY {} ON {table_sql} AS PERMISSIVE FOR {} TO {role_sql} {clauses}", quote(name), op.to_uppercase())
}

/// Remove the policies `bknd.allow` made for `operations` and `to_role`: those of one rule, or
/// all of them when `rule` is NULL.
#[pg_extern(volatile, parallel_unsafe)]
fn revoke(table_name: &str, operations: &str, to_role: default!(&str, "'authenticated'"), rule: default!(Option<&str>, "NULL")) -> JsonB {
    let mut change = Change::begin("revoke", json!({"table_name": table_name, "operations": operations, "to_role": to_role, "rule": rule}));
    let table = TableName::parse(table_name, "public");
    let oid = catalog::table(&table);
    let role = parse_role(to_role);
    let rule = rule.map(Rule::parse);
    let mut dropped = Vec::new();
    for op in parse_operations(operations) {
        for name in managed_policies(oid, op, &role) {
            if rule.as_ref().is_some_and(|r| policy_name(op, &role, r) != name) {
                continue;
            }
            change.push(format!("DROP POLICY {} ON {}", quote(&name), table.quoted()));
            dropped.push(name);
        }
    }
    change.run();
    JsonB(json!({"table": table.display(), "dropped": dropped}))
}

/// The RLS policies on a table, bknd's and any others.
#[pg_extern(stable, strict, parallel_safe)]
fn policies(table_name: &str) -> JsonB {
    let table = TableName::parse(table_name, "public");
    JsonB(catalog::json_query(POLICIES, Some(catalog::table(&table))))
}

/// A rule expression is spliced into CREATE POLICY; make sure the result is exactly one
/// CREATE POLICY statement, so no rule can smuggle in a second statement.
pub(crate) fn ensure_single_create_policy(sql: &str) {
    let Ok(text) = CString::new(sql) else { errors::invalid("rule contains a NUL byte") };
    let single = unsafe {
        #[cfg(feature = "pg13")]
        let list = pg_sys::raw_parser(text.as_ptr());
        #[cfg(not(feature = "pg13"))]
        let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let list = pgrx::PgList::<pg_sys::RawStmt>::from_pg(list);
        list.len() == 1
            && list.get_ptr(0).is_some_and(|raw| !(*raw).stmt.is_null() && (*(*raw).stmt).type_ == pg_sys::NodeTag::T_CreatePolicyStmt)
    };
    if !single {
        errors::raise(Code::ERRCODE_SYNTAX_ERROR, "rule must be a single SQL boolean expression");
    }
}
