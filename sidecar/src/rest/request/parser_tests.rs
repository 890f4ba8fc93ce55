//! The query-language parser: examples of what it builds, and a property test that random
//! input never panics (it either parses or returns a PGRST100 error).

use proptest::prelude::*;

use super::field::parse_field;
use super::filter::{parse_filter, parse_logic, Logic, Operation, Quantifier};
use super::order::parse_order;
use super::query_string;
use super::select::{parse_select, JoinKind, SelectItem};

#[test]
fn select_with_alias_cast_json_path_and_embeds() {
    let items = parse_select("id, myId:id::text,data->a->>b,client:clients!fk!inner(id,name),...owner(name)").unwrap();
    assert_eq!(items.len(), 5);
    match &items[1] {
        SelectItem::Field { field, alias, cast } => {
            assert_eq!(field.name, "id");
            assert_eq!(alias.as_deref(), Some("myId"));
            assert_eq!(cast.as_deref(), Some("text"));
        }
        other => panic!("{other:?}"),
    }
    match &items[2] {
        SelectItem::Field { field, .. } => assert_eq!(field.json_path.len(), 2),
        other => panic!("{other:?}"),
    }
    match &items[3] {
        SelectItem::Embed(e) => {
            assert_eq!(
                (e.relation.as_str(), e.alias.as_deref(), e.hint.as_deref(), e.join),
                ("clients", Some("client"), Some("fk"), JoinKind::Inner)
            );
            assert_eq!(e.items.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&items[4], SelectItem::Embed(e) if e.spread));
}

#[test]
fn filters_and_logic() {
    let f = parse_filter(parse_field("id").unwrap(), "not.eq(any).{1,2}").unwrap();
    assert!(f.negate);
    assert!(matches!(f.operation, Operation::Compare { op: "=", quantifier: Some(Quantifier::Any), .. }));
    let f = parse_filter(parse_field("name").unwrap(), r#"in.("a,b",c)"#).unwrap();
    assert_eq!(f.operation, Operation::In(vec!["a,b".into(), "c".into()]));
    let tree = parse_logic(true, false, "(a.eq.1,and(b.gt.2,c.is.null),not.or(d.like.*x*,e.in.(1,2)))").unwrap();
    match tree {
        Logic::Tree { or: true, children, .. } => assert_eq!(children.len(), 3),
        other => panic!("{other:?}"),
    }
    assert!(parse_order("a.desc.nullslast,b->c.asc").is_ok());
    assert!(parse_order("a.up").is_err());
}

#[test]
fn a_trailing_backslash_in_quotes_does_not_panic() {
    // found by the property test below
    let _ = parse_logic(true, false, "(\"}\\,*7\".\\\\\"\\}\"6\").}.x.u}**va.\"4\\p.u\\q\"f7(f\\bz6c-g(}.\"\"k6)0\\");
    let _ = parse_logic(false, false, "(a.eq.\"x\\");
    let _ = parse_logic(false, false, "(a.eq.\"\\");
}

#[test]
fn casts_to_pseudo_types_are_parse_errors() {
    for ty in [
        "unknown",
        "UNKNOWN",
        "Record",
        "record[]",
        "_record",
        "any",
        "anyelement",
        "cstring",
        "internal",
        "void",
        "trigger",
        "event_trigger",
        "language_handler",
        "fdw_handler",
    ] {
        let e = parse_select(&format!("title::{ty}")).expect_err(ty);
        assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "PGRST100"), "{ty}");
    }
    for ty in ["text", "int", "character varying", "text[]", "anything", "records", "voids"] {
        assert!(parse_select(&format!("title::{ty}")).is_ok(), "{ty}");
    }
}

#[test]
fn names_with_nul_are_parse_errors() {
    // names are spliced into SQL text, which cannot hold NUL
    assert_eq!(parse_select("\"a\0b\"").expect_err("select").code, "PGRST100");
    assert_eq!(parse_select("x:\"a\\\0\"").expect_err("escaped").code, "PGRST100");
    assert_eq!(parse_field("\"a\0\"").expect_err("field").code, "PGRST100");
    assert_eq!(parse_order("\"a\0\".desc").expect_err("order").code, "PGRST100");
    for key in ["columns", "on_conflict"] {
        let e = query_string::parse(&[(key.to_string(), "a,\"b\0\"".to_string())]).expect_err(key);
        assert_eq!(e.code, "PGRST100", "{key}");
    }
}

#[test]
fn ranges_parse_or_are_ignored_or_are_416() {
    use super::parse_range;
    assert_eq!(parse_range("items=0-9").ok().flatten(), Some((0, Some(9))));
    assert_eq!(parse_range("0-9223372036854775807").ok().flatten(), Some((0, Some(i64::MAX))));
    assert_eq!(parse_range("5-").ok().flatten(), Some((5, None)));
    for ignored in ["", "x", "-5-3", "0-99999999999999999999", "a-b", "1"] {
        assert!(matches!(parse_range(ignored), Ok(None)), "{ignored}");
    }
    let e = parse_range("5-2").expect_err("reversed");
    assert_eq!((e.status.as_u16(), e.code.as_str()), (416, "PGRST103"));
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        Just("select".to_string()),
        Just("order".to_string()),
        Just("or".to_string()),
        Just("not.and".to_string()),
        Just("limit".to_string()),
        Just("a.b.order".to_string()),
        "[a-z.>-]{0,12}",
    ];
    prop::collection::vec((key, "[a-z0-9().,!:*\"\\\\ {}\\[\\]>-]{0,40}"), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn select_never_panics(s in "\\PC{0,80}") {
        let _ = parse_select(&s);
    }

    #[test]
    fn select_like_input_never_panics(s in "[a-z0-9().,!:*\" >-]{0,60}") {
        let _ = parse_select(&s);
    }

    #[test]
    fn filters_never_panic(field in "\\PC{0,20}", value in "\\PC{0,60}") {
        if let Ok(f) = parse_field(&field) {
            let _ = parse_filter(f, &value);
        }
    }

    #[test]
    fn logic_never_panics(s in "[a-z0-9().,\"\\\\{}*-]{0,60}", or in any::<bool>()) {
        let _ = parse_logic(or, false, &s);
    }

    #[test]
    fn order_never_panics(s in "\\PC{0,60}") {
        let _ = parse_order(&s);
    }

    #[test]
    fn query_strings_never_panic(p in pairs()) {
        let _ = query_string::parse(&p);
    }
}

#[test]
fn headers_become_one_json_object_with_the_last_text_value_of_each_name() {
    use axum::http::{HeaderMap, HeaderValue};
    let mut headers = HeaderMap::new();
    headers.insert("x-a", HeaderValue::from_static("one"));
    headers.append("x-a", HeaderValue::from_static("two"));
    headers.append("x-a", HeaderValue::from_bytes(b"\xff").unwrap());
    headers.insert("x-quote", HeaderValue::from_static(r#"say "hi" \ there"#));
    headers.insert("x-binary", HeaderValue::from_bytes(b"\xfe\xff").unwrap());
    let json = super::headers_json(&headers);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, serde_json::json!({"x-a": "two", "x-quote": r#"say "hi" \ there"#}));
    assert!(json.starts_with(r#"{"x-a":"two""#), "names keep the order they came in: {json}");
    assert_eq!(super::headers_json(&HeaderMap::new()), "{}");
}
