//! Upgrading: a database made with an earlier release (its install script is kept in
//! sql/archive) and then `ALTER EXTENSION bknd UPDATE` keeps its data and ends up with exactly
//! the objects, privileges and dump settings a fresh install of the current version has.

use bknd_tests::*;
use serde_json::json;

/// Everything about schema bknd that a release defines, as sorted lines to compare.
const CATALOG: &str = r#"
SELECT 'function ' || p.oid::regprocedure::text || ' returns ' || pg_get_function_result(p.oid)
       || ' definer=' || p.prosecdef || ' strict=' || p.proisstrict || ' volatile=' || p.provolatile::text
       || ' parallel=' || p.proparallel::text || ' config=' || coalesce(array_to_string(p.proconfig, ','), '')
       || ' args=' || coalesce(pg_get_function_arguments(p.oid), '')
       || ' acl=' || coalesce((SELECT string_agg(a, ',' ORDER BY a) FROM unnest(p.proacl::text[]) a), '')
       || ' symbol=' || coalesce(p.prosrc, '')
FROM pg_proc p WHERE p.pronamespace = 'bknd'::regnamespace
UNION ALL
SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text || ' rls=' || c.relrowsecurity
       || ' owner_is_superuser=' || (SELECT rolsuper FROM pg_roles WHERE oid = c.relowner)
       || ' acl=' || coalesce((SELECT string_agg(a, ',' ORDER BY a) FROM unnest(c.relacl::text[]) a), '')
FROM pg_class c WHERE c.relnamespace = 'bknd'::regnamespace
UNION ALL
SELECT 'column acl ' || c.relname || '.' || a.attname || ' ' || coalesce((SELECT string_agg(x, ',' ORDER BY x) FROM unnest(a.attacl::text[]) x), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'bknd'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
UNION ALL
SELECT 'policy ' || polrelid::regclass::text || ' ' || polname || ' ' || polcmd::text || ' permissive=' || polpermissive
       || ' roles=' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ',' ORDER BY r) FROM unnest(polroles) r)
       || ' using=' || coalesce(pg_get_expr(polqual, polrelid), '') || ' check=' || coalesce(pg_get_expr(polwithcheck, polrelid), '')
FROM pg_policy WHERE polrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'bknd'::regnamespace)
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'bknd'::regnamespace AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'bknd'::regnamespace
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'bknd'
UNION ALL
SELECT 'trigger ' || tgrelid::regclass::text || ' ' || pg_get_triggerdef(oid)
FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'bknd'::regnamespace)
UNION ALL
SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtenabled::text || ' ' || evtfoid::regproc::text FROM pg_event_trigger
UNION ALL
SELECT 'dumped ' || c::regclass::text FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'bknd'
UNION ALL
SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'bknd')
ORDER BY 1
"#;

fn catalog(db: &TestDb) -> Vec<String> {
    db.admin().query(CATALOG, &[]).unwrap().iter().map(|r| r.get::<_, String>(0)).collect()
}

fn version(db: &TestDb) -> String {
    scalar_string(&mut db.admin(), "SELECT extversion FROM pg_extension WHERE extname = 'bknd'").unwrap()
}

#[test]
fn upgrade_from_0_1_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.1.0");
}

#[test]
fn upgrade_from_0_2_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.2.0");
}

#[test]
fn upgrade_from_0_3_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.3.0");
}

#[test]
fn upgrade_from_0_4_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.4.0");
}

#[test]
fn upgrade_from_0_5_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.5.0");
}

#[test]
fn upgrade_from_0_6_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.6.0");
}

#[test]
fn upgrade_from_0_7_0_keeps_data_and_matches_a_fresh_install() {
    upgrade_keeps_data_and_matches_a_fresh_install("0.7.0");
}

fn upgrade_keeps_data_and_matches_a_fresh_install(from: &str) {
    let name = format!("upgrade_old_{}", from.replace('.', "_"));
    let old = TestDb::at_version(&name, from);
    assert_eq!(version(&old), from);
    let mut c = old.admin();
    c.batch_execute(
        "SELECT bknd.create_table('notes', '{\"body\": {\"type\": \"text\", \"required\": true}}');
         SELECT bknd.allow('notes', 'all', 'authenticated', 'owner');
         SELECT bknd.create_table('gone', '{\"x\": {\"type\": \"text\"}}');
         SELECT bknd.drop_table('gone');
         DO $$ BEGIN CREATE ROLE upgrade_app_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         CREATE TABLE gone (y int);
         ALTER TABLE gone ENABLE ROW LEVEL SECURITY;
         ALTER TABLE gone OWNER TO upgrade_app_owner;
         ALTER TABLE notes OWNER TO postgres;",
    )
    .unwrap();
    let signed_up = old.call_as(None, "bknd.sign_up('old@example.com', 'a long password 1')");
    let token = signed_up["access_token"].as_str().expect("a session").to_string();
    let secret_before = scalar_string(&mut c, "SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'").unwrap();

    c.batch_execute("ALTER EXTENSION bknd UPDATE").unwrap();
    let current = scalar_string(&mut c, "SELECT default_version FROM pg_available_extensions WHERE name = 'bknd'").unwrap();
    assert_ne!(current, from);
    assert_eq!(version(&old), current);

    // bknd's tables are service_role's now (notes was the superuser's, as a table made from
    // psql before 0.5.0 was); a table someone made later under a dropped bknd table's name is
    // left to its owner
    // left to its owner. From 0.5.0 on, bknd makes its tables service_role's itself, and an
    // owner a superuser chose later is theirs to keep.
    let owner = |t: &str| scalar_string(&mut old.admin(), &format!("SELECT tableowner::text FROM pg_tables WHERE tablename = '{t}'"));
    let before_0_5 = ["0.1.0", "0.2.0", "0.3.0", "0.4.0"].contains(&from);
    assert_eq!(owner("notes").as_deref(), Some(if before_0_5 { "service_role" } else { "postgres" }));
    assert_eq!(owner("gone").as_deref(), Some("upgrade_app_owner"));

    // data, the secret and the session survive
    assert_eq!(scalar_string(&mut c, "SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'").unwrap(), secret_before);
    let user = old.call_as(Some(&token), "bknd.get_user()");
    assert_eq!(user["email"], "old@example.com");
    let mut api = old.connect_as("authenticator");
    let mut tx = api.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&Some(token.as_str())]).unwrap();
    tx.batch_execute("INSERT INTO notes (body) VALUES ('after upgrade')").unwrap();
    tx.commit().unwrap();

    // what the new release adds works on the upgraded database
    c.batch_execute("SELECT bknd.configure_oauth_provider('github', 'id', 'secret')").unwrap();
    let settings = old.call_as(None, "bknd.auth_public_settings()");
    assert_eq!(settings["external"]["github"], json!(true));
    c.batch_execute(
        "SELECT bknd.create_bucket('up'); INSERT INTO bknd.objects (bucket_id, name) VALUES ('up', 'x'); DELETE FROM bknd.objects",
    )
    .unwrap();
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM bknd.storage_garbage"), 1);

    // and the upgraded catalog is the fresh one, line for line
    let fresh = TestDb::new(&format!("upgrade_fresh_{}", from.replace('.', "_")));
    let (upgraded, installed) = (catalog(&old), catalog(&fresh));
    let only_upgraded: Vec<_> = upgraded.iter().filter(|l| !installed.contains(l)).collect();
    let only_fresh: Vec<_> = installed.iter().filter(|l| !upgraded.contains(l)).collect();
    assert!(
        only_upgraded.is_empty() && only_fresh.is_empty(),
        "upgrade and fresh install differ\nonly after upgrade: {only_upgraded:#?}\nonly in a fresh install: {only_fresh:#?}"
    );
    assert!(installed.iter().any(|l| l.starts_with("function bknd.oauth_begin(")));
    assert!(installed.iter().any(|l| l.starts_with("function bknd.run_as(")));
    assert!(installed.iter().any(|l| l.starts_with("function bknd.storage_garbage(")));
    assert!(installed.iter().any(|l| l.starts_with("function bknd.execute_sql(")));
    assert!(installed.iter().any(|l| l.starts_with("column objects.replaces_version ")));
}
