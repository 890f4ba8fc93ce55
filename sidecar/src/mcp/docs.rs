//! The project's own documentation (docs/*.md and the README), built into the binary so it
//! matches the running version: each page an MCP resource (`bknd://docs/NAME`), and
//! `search_docs` answers the best few sections for a query, with their headings.

use serde_json::{json, Value};

/// (name, text) of every page, in the order an agent should meet them.
pub const PAGES: [(&str, &str); 12] = [
    ("README.md", include_str!("../../../README.md")),
    ("rest.md", include_str!("../../../docs/rest.md")),
    ("auth.md", include_str!("../../../docs/auth.md")),
    ("storage.md", include_str!("../../../docs/storage.md")),
    ("realtime.md", include_str!("../../../docs/realtime.md")),
    ("webhooks.md", include_str!("../../../docs/webhooks.md")),
    ("mcp.md", include_str!("../../../docs/mcp.md")),
    ("sql-api.md", include_str!("../../../docs/sql-api.md")),
    ("console.md", include_str!("../../../docs/console.md")),
    ("configuration.md", include_str!("../../../docs/configuration.md")),
    ("production.md", include_str!("../../../docs/production.md")),
    ("internals.md", include_str!("../../../docs/internals.md")),
];

pub const URI_PREFIX: &str = "bknd://docs/";

/// A page's text by its resource URI.
pub fn page(uri: &str) -> Option<&'static str> {
    let name = uri.strip_prefix(URI_PREFIX)?;
    PAGES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// A page's title: its first heading.
pub fn title(text: &str) -> &str {
    text.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or("").trim()
}

/// One section of a page: the text under one heading, up to the next.
struct Section<'a> {
    page: &'a str,
    heading: String,
    text: &'a str,
}

/// Every section with its words, made once (the pages are in the binary).
fn indexed() -> &'static [(Section<'static>, Vec<String>)] {
    static INDEX: std::sync::OnceLock<Vec<(Section<'static>, Vec<String>)>> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        sections()
            .into_iter()
            .map(|s| {
                let bag = words(s.text);
                (s, bag)
            })
            .collect()
    })
}

fn sections() -> Vec<Section<'static>> {
    let mut out = Vec::new();
    for (page, text) in PAGES {
        let mut heading = title(text).to_string();
        let mut start = 0;
        let mut fenced = false;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if !fenced && line.starts_with('#') {
                if offset > start {
                    out.push(Section { page, heading: heading.clone(), text: &text[start..offset] });
                }
                heading = line.trim_start_matches('#').trim().to_string();
                start = offset;
            }
            offset += line.len();
        }
        if offset > start {
            out.push(Section { page, heading, text: &text[start..offset] });
        }
    }
    out
}

/// Lowercase words of two letters or more (`bknd.allow_storage` -> bknd, allow_storage).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| w.chars().count() >= 2).map(str::to_lowercase).collect()
}

/// The best `max` sections for `query`: a word scores by how rare it is across sections (so
/// "the" counts for little), three times over in a heading or the page's name.
pub fn search(query: &str, max: usize) -> Value {
    let wanted = words(query);
    if wanted.is_empty() {
        return json!([]);
    }
    let all = indexed();
    let rarity: Vec<f64> = wanted
        .iter()
        .map(|w| {
            let with = all.iter().filter(|(_, bag)| bag.contains(w)).count() as f64;
            ((all.len() as f64 + 1.0) / (with + 1.0)).ln()
        })
        .collect();
    let mut scored: Vec<(f64, usize)> = all
        .iter()
        .enumerate()
        .map(|(i, (s, bag))| {
            let head = words(&format!("{} {}", s.heading, s.page));
            let score: f64 = wanted
                .iter()
                .zip(&rarity)
                .map(|(w, r)| {
                    let body = bag.iter().filter(|x| *x == w).count() as f64;
                    let top = head.iter().filter(|x| *x == w).count() as f64;
                    r * ((1.0 + body).ln() + 3.0 * top)
                })
                .sum();
            (score / (1.0 + (bag.len() as f64 / 400.0)), i)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let found: Vec<Value> = scored
        .into_iter()
        .take(max)
        .map(|(score, i)| {
            let s = &all[i].0;
            let text: String = s.text.chars().take(3000).collect();
            json!({"page": s.page, "uri": format!("{URI_PREFIX}{}", s.page), "heading": s.heading, "score": (score * 100.0).round() / 100.0, "text": text})
        })
        .collect();
    Value::Array(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realtime_page_answers_realtime_questions() {
        let found = search("realtime postgres_changes channel subscribe", 3);
        assert_eq!(found[0]["page"], "realtime.md", "{found}");
        assert!(found[0]["uri"].as_str().unwrap().starts_with("bknd://docs/"));
        assert_eq!(search("", 3), json!([]));
        assert_eq!(search("!!", 3), json!([]));
        let storage = search("signed URL upload bucket", 3);
        assert_eq!(storage[0]["page"], "storage.md", "{storage}");
    }

    #[test]
    fn every_page_is_a_resource_with_a_title() {
        for (name, text) in PAGES {
            assert!(!title(text).is_empty(), "{name} has no title");
            assert_eq!(page(&format!("bknd://docs/{name}")), Some(text));
        }
        assert_eq!(page("bknd://docs/../Cargo.toml"), None);
    }
}
