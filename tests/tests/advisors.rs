//! `bknd.advisors(schemas)`, `bknd.agent_context(schemas)` and `bknd.api_schema(schemas)` in
//! SQL: what an agent is told about the database, as the caller. Each finding the advisors
//! make, its fix applied making it go, and a user's token told only about what it may use.

use bknd_tests::*;
use serde_json::{json, Value};

fn kinds(found: &Value, object: &str) -> Vec<String> {
    found.as_array().unwrap().iter().filter(|f| f["object"] == object).map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

#[test]
fn advisors_find_what_is_open_or_slow_and_their_fixes_make_it_go() {
    let db = TestDb::new("advisors_findings");
    let mut admin = db.admin();
    admin
        .batch_execute(
            "CREATE TABLE public.wide_open (id int PRIMARY KEY, note text);
             GRANT SELECT ON public.wide_open TO anon, authenticated;
             SELECT bknd.create_table('lists', '{\"name\": {\"type\": \"text\"}}');
             SELECT bknd.create_table('items', '{\"title\": {\"type\": \"text\"}}');
             ALTER TABLE public.items ADD COLUMN list_id uuid REFERENCES public.lists (id);
             CREATE INDEX items_title_a ON public.items (title);
             CREATE INDEX items_title_b ON public.items (title);
             CREATE UNIQUE INDEX items_title_unique ON public.items (title);
             SELECT bknd.allow('lists', 'select', 'anon', 'true');
             CREATE FUNCTION public.as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
             GRANT EXECUTE ON FUNCTION public.as_owner() TO anon;
             SELECT bknd.create_bucket('shared', true, NULL, NULL);",
        )
        .unwrap();
    let found = json(&mut admin, "SELECT bknd.advisors()");
    assert_eq!(found[0]["level"], "error", "most serious first: {found}");
    assert_eq!(kinds(&found, "wide_open"), ["rls_disabled"]);
    assert_eq!(kinds(&found, "lists"), ["anon_true_policy"]);
    let mut items = kinds(&found, "items");
    items.sort();
    assert_eq!(items, ["duplicate_index", "rls_no_policy", "unindexed_foreign_key"], "{found}");
    assert_eq!(kinds(&found, "as_owner()"), ["security_definer_function"]);
    assert_eq!(kinds(&found, "shared"), ["public_bucket"]);

    // each fix, as given, makes its finding go
    for f in found.as_array().unwrap() {
        admin.batch_execute(f["fix"].as_str().unwrap()).unwrap_or_else(|e| panic!("{}: {e}", f["fix"]));
    }
    let after = json(&mut admin, "SELECT bknd.advisors()");
    let left: Vec<&str> = after.as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(
        !left.iter().any(|k| [
            "rls_disabled",
            "anon_true_policy",
            "duplicate_index",
            "unindexed_foreign_key",
            "security_definer_function",
            "public_bucket"
        ]
        .contains(k)),
        "{after}"
    );

    // a user's token hears only about what it may use; anon about less
    let user = db.token(json!({"role": "authenticated", "sub": "00000000-0000-0000-0000-000000000001"}));
    admin.batch_execute("CREATE TABLE public.hidden (id int PRIMARY KEY)").unwrap();
    let seen = db.call_as(Some(&user), "bknd.advisors()");
    assert!(kinds(&seen, "hidden").is_empty(), "{seen}");
    let context = db.call_as(Some(&user), "bknd.agent_context(ARRAY['public'])");
    assert_eq!(context["role"], "authenticated");
    assert_eq!(context["user_id"], "00000000-0000-0000-0000-000000000001");
    let tables: Vec<&str> = context["tables"].as_array().unwrap().iter().map(|t| t["table"].as_str().unwrap()).collect();
    assert!(tables.contains(&"lists") && !tables.contains(&"hidden"), "{tables:?}");
    let described = db.call_as(Some(&user), "bknd.api_schema(ARRAY['public'])");
    let names: Vec<&str> = described["public"]["tables"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"items") && !names.contains(&"hidden"), "{names:?}");
    let rel = &described["public"]["tables"].as_array().unwrap().iter().find(|t| t["name"] == "items").unwrap()["relationships"][0];
    assert_eq!(
        (rel["columns"].clone(), rel["referenced"].clone(), rel["one_to_one"].clone()),
        (json!(["list_id"]), json!("lists"), json!(false))
    );
}
