//! The MCP prompts: `build_app` (the steps an agent follows to build an app on bknd) and
//! `secure_table` (review one table's policies). They are instructions for the agent, built
//! from the arguments as plain text; the tools they name do the work under the caller's role.

use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Map, Value};

pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "build_app",
            Some("The steps to build a working app on bknd: context, tables, policies, types, client code, advisors."),
            Some(vec![PromptArgument::new("app")
                .with_description("what the app does, in a sentence (e.g. a shared todo list with teams)")
                .with_required(false)]),
        ),
        Prompt::new(
            "secure_table",
            Some("Review one table's row-level security: who may read and change which rows, and what to fix."),
            Some(vec![PromptArgument::new("table").with_description("the table, as schema.name or name").with_required(true)]),
        ),
    ]
}

/// One argument as plain text on one line (it is quoted into the instructions).
fn argument(args: &Map<String, Value>, key: &str) -> Option<String> {
    let text = args.get(key)?.as_str()?.trim();
    (!text.is_empty()).then(|| text.chars().filter(|c| !c.is_control()).take(500).collect())
}

pub fn get(name: &str, args: &Map<String, Value>) -> Result<GetPromptResult, String> {
    let text = match name {
        "build_app" => {
            let app = argument(args, "app").map(|a| format!("The app: {a}\n\n")).unwrap_or_default();
            format!(
                "{app}Build it on bknd (a backend inside PostgreSQL with Supabase-compatible APIs), in this order:\n\
                 1. Call get_context: the URLs, the key a browser app uses, your role, the tables you may use and what bknd does not offer. \
                 Do not use features it lists as absent.\n\
                 2. Look things up with search_docs (or read the bknd://docs/ resources) before guessing an API.\n\
                 3. Create the tables with create_table (service_role): each gets a uuid primary key `id` and an owner column \
                 `owner_id` defaulting to the signed-in user (bknd.uid()), which the rule owner checks; foreign keys with \
                 create_relation. Tables start with RLS on and no access.\n\
                 4. Add policies with allow: for user-owned rows, rule owner for select, insert, update and delete to authenticated; \
                 public data: select to anon with rule true. Never leave a table readable by anon unless it is meant to be public.\n\
                 5. Buckets for files with create_bucket and their policies with allow_storage (folder or owner rules).\n\
                 6. Generate the types with generate_typescript_types and write the client with supabase-js: \
                 createClient<Database>(url, anonKey); sign users in with supabase.auth; never ship a service_role key.\n\
                 7. Turn on realtime for tables the UI follows (enable_realtime) and subscribe with supabase.channel().\n\
                 8. Run get_advisors and fix every finding at level error or warn before you call the app done; then check the data \
                 tools with a user's token to see that each user sees only their rows."
            )
        }
        "secure_table" => {
            let Some(table) = argument(args, "table") else { return Err("secure_table needs the table".into()) };
            format!(
                "Review the row-level security of the table {table:?} on bknd.\n\
                 1. describe_table and list_policies for it: is RLS on, which roles (anon, authenticated) may select, insert, update \
                 and delete, and under which rule?\n\
                 2. For each operation say who can reach which rows. A rule `true` for anon makes every row public; a table with an \
                 owner_id column usually wants rule owner for authenticated, and nothing for anon.\n\
                 3. Check inserts and updates: WITH CHECK must keep users from writing rows that belong to someone else.\n\
                 4. Run get_advisors and read the findings for this table.\n\
                 5. Propose the fix as allow / revoke calls (or SQL for get_advisors' fixes), apply it only when asked, and verify with \
                 the select tool using an anon and a user token."
            )
        }
        other => return Err(format!("no prompt {other:?}: build_app or secure_table")),
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]))
}
