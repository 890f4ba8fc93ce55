//! `bknd.allow_storage(bucket, operations, to_role, rule)`: RLS policies on bknd.objects for
//! one bucket, like `bknd.allow` for tables. Rules: the presets `true`, `owner` (objects the
//! caller uploaded), `authenticated`, `folder` (the first path segment is the caller's user
//! id: `users/<uid>/...` style layouts use an expression), or an SQL boolean expression
//! (superusers only).

use pgrx::prelude::*;
use pgrx::spi::quote_literal;
use serde_json::json;

use crate::ddl::names;
use crate::errors::{self, Code};
use crate::identity;
use crate::policy::{create_policy_sql, ensure_single_create_policy, parse_operations, parse_role};

fn rule_sql(rule: &str) -> (String, String) {
    match rule.trim() {
        "true" => ("true".into(), "true".into()),
        "owner" => ("owner_id = (SELECT bknd.uid())".into(), "owner".into()),
        "authenticated" => ("(SELECT bknd.uid()) IS NOT NULL".into(), "authenticated".into()),
        "folder" => ("(bknd.foldername(name))[1] = (SELECT bknd.uid())::text".into(), "folder".into()),
        other => {
            if !identity::is_superuser() {
                errors::raise_hint(
                    Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    "only a superuser may write a storage rule as an SQL expression",
                    "use one of the presets: true, owner, authenticated, folder",
                );
            }
            if other.is_empty() {
                errors::invalid("rule is empty");
            }
            let digest = <sha2::Sha256 as sha2::Digest>::digest(other.as_bytes());
            (other.to_string(), format!("x{}", digest.iter().take(5).map(|b| format!("{b:02x}")).collect::<String>()))
        }
    }
}

/// Allow `operations` on the objects of `bucket` to `to_role` where `rule` holds.
#[pg_extern(volatile, parallel_unsafe)]
fn allow_storage(
    bucket: &str,
    operations: &str,
    to_role: default!(&str, "'authenticated'"),
    rule: default!(&str, "'true'"),
) -> pgrx::JsonB {
    super::bucket(bucket);
    let ops = parse_operations(operations);
    let role = parse_role(to_role);
    let (condition, key) = rule_sql(rule);
    let condition = format!("bucket_id = {} AND ({condition})", quote_literal(bucket));
    let mut policies = Vec::new();
    for op in ops {
        let name = names::derived(&["bknd", op, &role, bucket], &key);
        let sql = create_policy_sql(&name, "bknd.objects", op, &role, &condition);
        ensure_single_create_policy(&sql);
        // the policy belongs on the extension's table, which only its owner may alter
        identity::as_extension_owner(|| {
            let exists = errors::spi(crate::plans::get_one::<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = 'bknd.objects'::regclass AND polname = $1)",
                &[name.as_str().into()],
            ));
            if exists != Some(true) {
                errors::spi(Spi::run(&sql));
            }
        });
        policies.push(name);
    }
    pgrx::JsonB(json!({"bucket": bucket, "policies": policies}))
}

/// The `bknd.objects` policies of one bucket, as `bknd.allow_storage` writes them (their rule
/// begins `bucket_id = 'BUCKET'`): name, command, roles, using, with_check.
#[pg_extern(stable, strict, parallel_safe)]
fn storage_policies(bucket: &str) -> pgrx::JsonB {
    super::bucket(bucket);
    let objects =
        errors::spi(crate::plans::get_one::<pg_sys::Oid>("SELECT 'bknd.objects'::regclass::oid", &[])).expect("bknd.objects exists");
    let all = crate::ddl::catalog::json_query(crate::ddl::describe::POLICIES, Some(objects));
    let prefix = format!("((bucket_id = {}::text) AND ", quote_literal(bucket));
    let of_bucket = |p: &serde_json::Value| ["using", "with_check"].iter().any(|k| p[k].as_str().is_some_and(|e| e.starts_with(&prefix)));
    pgrx::JsonB(serde_json::Value::Array(all.as_array().into_iter().flatten().filter(|p| of_bucket(p)).cloned().collect()))
}

/// Drop one of `bucket`'s policies (by name, as `bknd.storage_policies` lists them). Other
/// policies on bknd.objects, of other buckets or written by hand for several, are refused.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn drop_storage_policy(bucket: &str, name: &str) -> bool {
    let pgrx::JsonB(listed) = storage_policies(bucket);
    let ours = listed.as_array().into_iter().flatten().any(|p| p["name"].as_str() == Some(name));
    if !ours {
        errors::raise(Code::ERRCODE_UNDEFINED_OBJECT, format!("bucket {bucket:?} has no policy {name:?}"));
    }
    let sql = format!("DROP POLICY {} ON bknd.objects", crate::ddl::names::quote(name));
    identity::as_extension_owner(|| errors::spi(Spi::run(&sql)));
    true
}
