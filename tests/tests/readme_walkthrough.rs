//! The README's walkthrough, run as written against a fresh stack, so it cannot drift.
//!
//! How blocks are picked and run (see tests/src/walkthrough.rs for the details): a fenced block
//! is part of the walkthrough when the line before its fence is an HTML comment, which renders
//! as nothing:
//!   `<!-- walkthrough -->`              sh: one bash session; sql: psql (consecutive sql
//!                                       blocks are one psql session)
//!   `<!-- walkthrough: file NAME -->`   saved as NAME in the shell's directory (app.mjs,
//!                                       mcp_demo.py); a later sh block runs it
//!   `<!-- walkthrough: not run (why) -->` shown, not executed (npm/pip installs)
//! The page the walkthrough saves (index.html) is then served from another origin and opened
//! in Debian's chromium (tests/e2e/open_page.mjs), and what it shows is checked.
//! Every fenced block under "## Walkthrough" must carry one of these markers. Comment lines
//! `# => TEXT` / `-- => TEXT` are the output the README shows; the test checks that each
//! appears in what the lines before it printed (whitespace-insensitive, `...` matches
//! anything).
//!
//! The stack: a database of its own with the extension on the test cluster
//! (`BKND_TEST_PG_PORT`) and a real sidecar (`BKND_BIN`). The only rewriting of the README's
//! text: the `make run` defaults `postgres://postgres@127.0.0.1:54329/bknd`,
//! `postgres://authenticator@127.0.0.1:54329/bknd` and `http://127.0.0.1:3000` become this
//! stack's, and `target/release/bknd` becomes `BKND_BIN`. The keys come from the README's own
//! `bknd keys` call. HOME is a scratch folder, so `~/bknd-demo` is made there; the npm and pip
//! installs the README shows are not run: that folder gets `node_modules` and `.venv` as links
//! to the same pinned packages `make test` installs (tests/e2e/node_modules, .tools/venv).

use std::path::PathBuf;
use std::process::Command;

use bknd_tests::sidecar::{binary, Sidecar};
use bknd_tests::walkthrough::{self, Run};
use bknd_tests::*;

const README_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:54329/bknd";
const README_AUTHENTICATOR_URL: &str = "postgres://authenticator@127.0.0.1:54329/bknd";
const README_API: &str = "http://127.0.0.1:3000";
const README_BIN: &str = "target/release/bknd";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

#[test]
fn readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let node_modules = repo().join("tests/e2e/node_modules");
    let venv = repo().join(".tools/venv");
    assert!(node_modules.join("@supabase/supabase-js").exists(), "npm packages missing: run `make test`");
    assert!(venv.join("bin/python").exists(), "python venv missing: run `make test`");

    // every block of the walkthrough is either run or says why not
    let section = walkthrough::section(&readme, "## Walkthrough");
    let fences = section.lines().filter(|l| l.trim_start().starts_with("```")).count() / 2;
    let marked = walkthrough::blocks(section);
    assert_eq!(marked.len(), fences, "a code block under ## Walkthrough has no walkthrough marker");
    let blocks = walkthrough::blocks(&readme);
    for kind in [Run::Shell, Run::Psql] {
        assert!(blocks.iter().any(|b| b.run == kind), "the walkthrough has no {kind:?} block");
    }
    for lang in ["js", "python"] {
        assert!(blocks.iter().any(|b| b.lang == lang && matches!(b.run, Run::File(_))), "no {lang} block is run");
    }

    // a fresh stack
    let db = TestDb::new("readme");
    let work = std::env::temp_dir().join(format!("bknd-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let demo = work.join("bknd-demo");
    std::fs::create_dir_all(&demo).unwrap();
    std::os::unix::fs::symlink(&node_modules, demo.join("node_modules")).unwrap();
    std::os::unix::fs::symlink(&venv, demo.join(".venv")).unwrap();
    let storage = format!("file://{}", work.join("storage").display());
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--storage", &storage]);

    let rewrite = |text: &str| {
        text.replace(README_ADMIN_URL, &url("postgres", &db.name))
            .replace(README_AUTHENTICATOR_URL, &url("authenticator", &db.name))
            .replace(README_API, &sidecar.base)
            .replace(README_BIN, &binary())
    };
    let blocks: Vec<_> = blocks
        .into_iter()
        .map(|mut b| {
            b.code = rewrite(&b.code);
            b
        })
        .collect();
    let (script, checkpoints) = walkthrough::script(&blocks, &url("postgres", &db.name), work.to_str().unwrap());
    std::fs::write(work.join("walkthrough.sh"), &script).unwrap();

    let out = Command::new("timeout")
        .args(["300", "bash", work.join("walkthrough.sh").to_str().unwrap()])
        .current_dir(repo())
        .env("HOME", &work)
        // `make run`'s sidecar is at the README's URL, which `bknd members add` assumes; this one is elsewhere
        .env("BKND_PUBLIC_URL", &sidecar.base)
        .env_remove("ANON_KEY")
        .env_remove("SERVICE_KEY")
        .output()
        .expect("run bash");
    let output = String::from_utf8_lossy(&out.stdout).to_string();
    println!("--- walkthrough output ---\n{output}\n--- end ---");

    let parts = walkthrough::split_output(&output, checkpoints.len());
    if parts.len() < checkpoints.len() {
        let failed = &checkpoints[parts.len()];
        panic!(
            "the README's walkthrough stopped ({}) in the block at README line {}, in:\n{}\n--- its output ---\n{}",
            out.status,
            failed.block_line,
            failed.ran,
            output.rsplit_once(&walkthrough::marker(parts.len().saturating_sub(1))).map_or(output.as_str(), |(_, t)| t)
        );
    }
    assert!(out.status.success(), "the walkthrough's bash ended with {}", out.status);
    for (checkpoint, part) in checkpoints.iter().zip(&parts) {
        if let Err(missing) = walkthrough::find_in_order(part, &checkpoint.expect) {
            panic!("README line {}: the README shows {missing:?}, but\n{}\nprinted:\n{part}", checkpoint.block_line, checkpoint.ran);
        }
    }

    // what the walkthrough left behind, checked directly as well
    let mut admin = db.admin();
    let rows: Vec<(String, String)> =
        admin.query("SELECT title, owner_id::text FROM todos ORDER BY title", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    let alice = "11111111-1111-1111-1111-111111111111";
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("buy milk", alice));
    assert_eq!((rows[2].0.as_str(), rows[2].1.as_str()), ("walk the dog", alice));
    let ada: String = admin.query_one("SELECT id::text FROM bknd.users WHERE email = 'ada@example.com'", &[]).unwrap().get(0);
    assert_eq!(rows[1], ("try supabase-js".to_string(), ada));
    // anon sees what the README says: nothing (no policy for anon)
    assert_eq!(sidecar.get("/rest/v1/todos"), (200, serde_json::json!([])));

    // the page the walkthrough saved, served from another origin and opened in chromium, as
    // the README says to (its python3 -m http.server is the one step done otherwise)
    let page = demo.join("index.html");
    assert!(std::fs::read_to_string(&page).is_ok_and(|p| !p.contains("PASTE_ANON_KEY")), "the walkthrough did not put the key in");
    let opened = Command::new("node").arg(repo().join("tests/e2e/open_page.mjs")).arg(&demo).output().expect("run node");
    let shown = String::from_utf8_lossy(&opened.stdout).trim().to_string();
    assert!(opened.status.success(), "the page did not load: {shown}\n{}", String::from_utf8_lossy(&opened.stderr));
    assert_eq!(shown, r#"[{"title":"try supabase-js","done":false}]"#, "what the README's page shows");

    drop(sidecar);
    let _ = std::fs::remove_dir_all(&work);
}
