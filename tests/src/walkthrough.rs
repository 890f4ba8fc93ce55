//! The README's walkthrough as a script: its marked code blocks, in order, turned into one bash
//! session, with the outputs the README shows checked against what really comes out.
//!
//! A block belongs to the walkthrough when the line before its fence is an HTML comment (which
//! Markdown renders as nothing):
//! - `<!-- walkthrough -->` on a ```sh block: pasted into the shell, one bash session for all.
//! - `<!-- walkthrough -->` on a ```sql block: pasted into psql. Consecutive sql blocks are one
//!   psql session (so `\gset` variables carry over), run as `psql -X -v ON_ERROR_STOP=1 URL -f`.
//! - `<!-- walkthrough: file NAME -->`: saved as NAME in the shell's current directory; a later
//!   sh block runs it (`node app.mjs`).
//! - `<!-- walkthrough: not run (why) -->`: part of the walkthrough, not executed here.
//!
//! In sh and sql blocks a comment line `# => TEXT` or `-- => TEXT` is output the README shows:
//! TEXT must appear in what the lines since the previous `=>` (or the block's start) print,
//! with runs of whitespace counted as one space and `...` matching anything. Several `=>`
//! lines in a row are matched in order.

/// How one block of the walkthrough is used.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    Shell,
    Psql,
    File(String),
    NotRun(String),
}

#[derive(Debug, Clone)]
pub struct Block {
    /// 1-based line of the fence in the Markdown file.
    pub line: usize,
    pub lang: String,
    pub run: Run,
    pub code: String,
}

/// The fenced blocks of `markdown` that carry a walkthrough marker, in order. Panics on a marker
/// it does not understand, so a typo cannot drop a block from the test.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = info.trim().to_string();
        let start = i;
        let mut code = String::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            code.push_str(lines[i]);
            code.push('\n');
            i += 1;
        }
        i += 1; // the closing fence
        let marker = start.checked_sub(1).map(|p| lines[p].trim()).unwrap_or("");
        let Some(marker) = marker.strip_prefix("<!-- walkthrough").and_then(|m| m.strip_suffix("-->")) else {
            continue;
        };
        let marker = marker.trim();
        let run = if marker.is_empty() {
            match lang.as_str() {
                "sh" | "bash" => Run::Shell,
                "sql" => Run::Psql,
                other => panic!("README line {}: a ```{other} block needs `file NAME` or `not run`", start + 1),
            }
        } else if let Some(name) = marker.strip_prefix(": file ") {
            Run::File(name.trim().to_string())
        } else if let Some(why) = marker.strip_prefix(": not run") {
            Run::NotRun(why.trim().to_string())
        } else {
            panic!("README line {}: unknown walkthrough marker {marker:?}", start + 1);
        };
        out.push(Block { line: start + 1, lang, run, code });
    }
    out
}

/// The lines of the section that starts with `heading` (up to the next heading of its level).
pub fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no {heading:?} in the README"));
    let level = heading.split(' ').next().unwrap_or("##");
    let rest = &markdown[start + 1..];
    let end = rest[heading.len()..].find(&format!("\n{level} ")).map_or(rest.len(), |e| e + heading.len());
    &rest[..end]
}

/// One place in the script where output is collected: the text the README says it shows.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Which README block and what ran since the previous checkpoint, for messages.
    pub block_line: usize,
    pub ran: String,
    pub expect: Vec<String>,
}

/// The bash script for `blocks` and its checkpoints. Checkpoint `n` prints `marker(n)` when
/// everything before it has run; `psql_url` is the database psql blocks run against.
pub fn script(blocks: &[Block], psql_url: &str, work: &str) -> (String, Vec<Checkpoint>) {
    let mut script = String::from("set -eo pipefail\nexec 2>&1\n");
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut k = 0;
    while k < blocks.len() {
        let block = &blocks[k];
        match &block.run {
            Run::NotRun(_) => {}
            Run::File(name) => {
                let end = "BKND_WALKTHROUGH_EOF";
                assert!(!block.code.contains(end), "README line {}: the block contains {end}", block.line);
                script.push_str(&format!("cat > {name} <<'{end}'\n{}{end}\n", block.code));
            }
            Run::Shell => {
                for (ran, expect) in chunks(&block.code, "# =>") {
                    script.push_str(&ran);
                    script.push_str(&format!("printf '\\n%s\\n' '{}'\n", marker(checkpoints.len())));
                    checkpoints.push(Checkpoint { block_line: block.line, ran, expect });
                }
            }
            Run::Psql => {
                // consecutive sql blocks: one psql session
                let mut sql = String::new();
                while k < blocks.len() && blocks[k].run == Run::Psql {
                    for (ran, expect) in chunks(&blocks[k].code, "-- =>") {
                        sql.push_str(&ran);
                        sql.push_str(&format!("\\echo '{}'\n", marker(checkpoints.len())));
                        checkpoints.push(Checkpoint { block_line: blocks[k].line, ran, expect });
                    }
                    k += 1;
                }
                let file = format!("{work}/walkthrough-{}.sql", checkpoints.len());
                std::fs::write(&file, sql).expect("write the psql input");
                script.push_str(&format!("psql -X -v ON_ERROR_STOP=1 '{psql_url}' -f '{file}'\n"));
                continue;
            }
        }
        k += 1;
    }
    (script, checkpoints)
}

pub fn marker(n: usize) -> String {
    format!("<<<walkthrough checkpoint {n}>>>")
}

/// `code` cut after each run of `=>` lines: (the code up to and including them, the texts).
fn chunks(code: &str, prefix: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let (mut ran, mut expect) = (String::new(), Vec::new());
    for line in code.lines() {
        let text = line.trim_start().strip_prefix(prefix).map(|t| t.trim().to_string());
        if text.is_none() && !expect.is_empty() {
            out.push((std::mem::take(&mut ran), std::mem::take(&mut expect)));
        }
        ran.push_str(line);
        ran.push('\n');
        if let Some(t) = text {
            expect.push(t);
        }
    }
    if !ran.trim().is_empty() || !expect.is_empty() {
        out.push((ran, expect));
    }
    out
}

/// Where each checkpoint's output is: `output` cut at the markers. Fewer parts than checkpoints
/// means the script stopped in the checkpoint after the last part.
pub fn split_output(output: &str, count: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = output;
    for n in 0..count {
        match rest.find(&marker(n)) {
            Some(at) => {
                parts.push(rest[..at].to_string());
                rest = &rest[at + marker(n).len()..];
            }
            None => break,
        }
    }
    parts
}

/// Whether `output` shows each of `expect` in order (whitespace runs as one space, `...` as
/// anything); the first that is missing otherwise.
pub fn find_in_order<'a>(output: &str, expect: &'a [String]) -> Result<(), &'a str> {
    let output = squash(output);
    let mut at = 0;
    for text in expect {
        let mut pos = at;
        for piece in squash(text).split("...").map(str::trim).filter(|p| !p.is_empty()) {
            match output[pos..].find(piece) {
                Some(found) => pos += found + piece.len(),
                None => return Err(text),
            }
        }
        at = pos;
    }
    Ok(())
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_checks() {
        let md = "x\n<!-- walkthrough -->\n```sh\necho hi\n# => hi\necho two\n```\n\n```sh\nnot marked\n```\n\
                  <!-- walkthrough: not run (browser) -->\n```html\n<p>\n```\n";
        let b = blocks(md);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].run, Run::Shell);
        assert_eq!(b[1].run, Run::NotRun("(browser)".into()));
        let c = chunks(&b[0].code, "# =>");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].1, vec!["hi".to_string()]);
        assert!(find_in_order("a  [{\"id\":1,\"t\":\"x\"}]\n", &["[{\"id\":...,\"t\":\"x\"}]".into()]).is_ok());
        assert!(find_in_order("(1 row)", &["(0 rows)".into()]).is_err());
    }
}
