//! `get_context`: what an agent needs before it builds an app on bknd, for the caller's token:
//! where the APIs are, which key a browser app uses (the anon key, handed only to service_role,
//! who may sign it anyway), who the caller is, the tables it may use with their policies
//! (`bknd.agent_context`, as the caller), and what bknd offers and does not, so an agent does
//! not reach for Supabase features that are absent.

use serde_json::{json, Value};

use crate::state::AppState;

/// What bknd has, as an agent would reach for it.
const OFFERS: [&str; 9] = [
    "REST (PostgREST-compatible) at urls.rest: select with embedding, filters, order, range pagination, insert/upsert/update/delete, Prefer headers, RPC on exposed functions",
    "auth (GoTrue-compatible) at urls.auth: email and password, one-time codes, magic links, TOTP MFA, OAuth and OpenID Connect providers, sessions with refresh tokens, admin user management with service_role",
    "storage (Supabase Storage-compatible) at urls.storage: buckets, uploads (one request or TUS resumable), downloads, signed URLs, move/copy/remove; access is RLS policies on objects (allow_storage presets)",
    "realtime (Supabase Realtime protocol) at urls.realtime: postgres_changes under RLS (enable_realtime per table), broadcast, presence, private channels",
    "webhooks: signed (Standard Webhooks) HTTP calls to your servers on row changes, auth and storage events",
    "row-level security everywhere: tables start with RLS on and no access; the allow tool adds policies (rules true, owner, authenticated)",
    "this MCP server: schema, policies, data, users, storage, webhooks, SQL, types, advisors and logs, each under the token's role",
    "the console for the team at urls.console",
    "supabase-js works unmodified: createClient(urls.base, anon key)",
];

/// What an agent might assume from Supabase but bknd does not have.
const ABSENT: [&str; 8] = [
    "edge functions (run server code elsewhere and call bknd with a key; webhooks can notify it)",
    "GraphQL (pg_graphql)",
    "pg_net, cron and queues",
    "phone/SMS sign-in, anonymous sign-in and SAML",
    "image transformations in storage",
    "branching and database migrations tooling (create_table, add_column and execute_sql change the live schema)",
    "vector search helpers (pgvector may be installed by the database's owner)",
    "realtime replay of missed database changes (broadcasts of private channels are replayed)",
];

/// The answer, from what the caller's token sees (`seen`, bknd.agent_context) and, for
/// service_role, the anon key.
/// Where each API is, from the public URL: what the console's API screen and get_context show.
pub fn urls(public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    json!({
        "base": base,
        "rest": format!("{base}/rest/v1"),
        "auth": format!("{base}/auth/v1"),
        "storage": format!("{base}/storage/v1"),
        "realtime": format!("{}/realtime/v1", base.replacen("http", "ws", 1)),
        "mcp": format!("{base}/mcp"),
        "console": format!("{base}/console/"),
    })
}

pub fn assemble(state: &AppState, seen: Value, anon_key: Option<Value>) -> Value {
    let base = state.auth.public_url.trim_end_matches('/');
    let role = seen["role"].as_str().unwrap_or("").to_string();
    let key = match anon_key {
        Some(k) => json!({
            "browser_key": "anon",
            "anon_key": k,
            "note": "A browser or mobile app uses this anon key (public: it only has what the anon and authenticated policies allow). Never put a service_role key in an app.",
        }),
        None => json!({
            "browser_key": "anon",
            "how_to_get_it": "Ask the project's owner: `bknd keys` prints it, and the console's API screen shows it. A browser or mobile app uses the anon key, never a service_role key.",
        }),
    };
    json!({
        "urls": urls(base),
        "keys": key,
        "caller": {
            "role": role,
            "user_id": seen["user_id"],
            "bypasses_rls": role == "service_role",
            "can_change_schema": role == "service_role",
        },
        "exposed_schemas": state.rest.schemas,
        "tables": seen["tables"],
        "bknd_offers": OFFERS,
        "bknd_does_not_offer": ABSENT,
        "client_example": format!(
            "import {{ createClient }} from '@supabase/supabase-js'\nconst supabase = createClient('{base}', ANON_KEY)\n\
             const {{ data, error }} = await supabase.from('TABLE').select('*')"
        ),
        "next": "Read the docs with search_docs or the bknd://docs/ resources; create tables with create_table (service_role), add policies with allow, \
                 generate types with generate_typescript_types, and check get_advisors before shipping.",
    })
}
