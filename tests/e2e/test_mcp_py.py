"""The Python `mcp` client against bknd's MCP server, over Streamable HTTP and over stdio.

With a service_role token it creates a table and a policy; two users insert and select and
each sees only their own rows; schema and SQL tools are refused to user and anon tokens; a bad
argument is a tool error the model can read; an invalid token gets 401. The Rust test
(tests/tests/e2e_clients.rs) passes BKND_URL, BKND_BIN, DATABASE_URL, SERVICE_KEY, TOKEN_A,
TOKEN_B, ANON_KEY.
"""

import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile

import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

URL = os.environ["BKND_URL"] + "/mcp"
SERVICE, A, B, ANON = (os.environ[k] for k in ("SERVICE_KEY", "TOKEN_A", "TOKEN_B", "ANON_KEY"))


@contextlib.asynccontextmanager
async def over_http(token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@contextlib.asynccontextmanager
async def over_stdio(token):
    # where the HTTP APIs are, for signed URLs and get_context
    env = {"DATABASE_URL": os.environ["DATABASE_URL"], "BKND_PUBLIC_URL": os.environ["BKND_URL"], "BKND_LOG": "warn", "PATH": os.environ.get("PATH", "")}
    args = ["mcp"] + (["--token", token] if token else [])
    params = StdioServerParameters(command=os.environ["BKND_BIN"], args=args, env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


# the tool's name is positional-only: tools take a `name` argument of their own
async def call(session, name, /, **arguments):
    result = await session.call_tool(name, arguments)
    return result.is_error, result.structured_content


async def ok(session, name, /, **arguments):
    is_error, content = await call(session, name, **arguments)
    assert not is_error, f"{name} failed: {content}"
    return content["result"]


async def refused(session, name, /, **arguments):
    is_error, content = await call(session, name, **arguments)
    assert is_error, f"{name} was allowed: {content}"
    return content["error"]


async def scenario(open_session, table):
    async with open_session(SERVICE) as admin:
        tools = {t.name: t for t in (await admin.list_tools()).tools}
        for name in ["list_tables", "create_table", "allow", "select", "insert", "update", "delete", "count",
                     "list_users", "create_bucket", "create_signed_url", "execute_sql", "explain", "schema_history"]:
            assert name in tools, f"missing tool {name}"
        assert tools["select"].annotations.read_only_hint is True
        assert tools["drop_table"].annotations.destructive_hint is True
        assert tools["create_table"].input_schema["required"] == ["table", "columns"]

        await ok(admin, "create_table", table=table, columns={"title": {"type": "text", "required": True}})
        await ok(admin, "allow", table=table, operations="all", role="authenticated", rule="owner")
        # realtime on and off, as describe_table tells
        await ok(admin, "enable_realtime", table=table)
        assert (await ok(admin, "describe_table", table=table))["realtime"] is True
        await ok(admin, "disable_realtime", table=table)
        assert (await ok(admin, "describe_table", table=table))["realtime"] is False
        await ok(admin, "enable_realtime", table=table)
        # webhooks: the secret once, at creation; the log as service_role reads it
        hook = f"{table}-hook"
        made = await ok(admin, "create_webhook", name=hook, url="https://hooks.example.com/in", events=[f"{table}.insert"])
        assert made["secret"].startswith("whsec_"), made
        listed = await ok(admin, "list_webhooks")
        assert [h["name"] for h in listed if h["name"] == hook] == [hook] and made["secret"] not in str(listed), listed
        assert (await ok(admin, "update_webhook", name=hook, changes={"events": [f"{table}.*"]}))["events"] == [f"{table}.*"]
        assert (await ok(admin, "rotate_webhook_secret", name=hook))["secret"] != made["secret"]
        sent = await ok(admin, "test_webhook", name=hook)
        log = await ok(admin, "list_webhook_deliveries", name=hook)
        assert [(d["id"], d["event_type"]) for d in log] == [(sent["delivery_id"], "webhook.test")], log
        again = await ok(admin, "resend_webhook_delivery", delivery_id=sent["delivery_id"])
        assert again["event_id"] == sent["event_id"], again
        assert "not found" in await refused(admin, "delete_webhook", name="no-such-hook")
        assert "unknown webhook event" in await refused(admin, "create_webhook", name="x", url="https://a.example", events=["nope"])
        await ok(admin, "delete_webhook", name=hook)
        # a bad argument is a tool error with a message, not a protocol error
        why = await refused(admin, "create_table", table="bad name!", columns={"x": {"type": "text"}})
        assert "name" in why.lower(), why
        why = await refused(admin, "add_column", table=table, column="n", spec={"type": "no-such-type"})
        assert why, why
        # undeclared or mistyped arguments are named, never dropped (an ignored `to_role` once
        # granted every signed-in user); the SQL function's own names are accepted
        why = await refused(admin, "allow", table=table, operations="select", to_rol="anon")
        assert "to_rol" in why, why
        why = await refused(admin, "allow", table=table, operations=["select"])
        assert "operations" in why, why
        made = await ok(admin, "allow", table_name=table, operations="select", to_role="anon", rule="true")
        assert "anon" in str(made) and "authenticated" not in str(made), made
        await ok(admin, "revoke", table=table, operations="select", to_role="anon")
        resource = await admin.read_resource("bknd://schema")
        assert table in resource.contents[0].text

    async with open_session(A) as alice, open_session(B) as bob:
        await ok(alice, "insert", table=table, rows=[{"title": "alice 1"}, {"title": "alice 2"}])
        await ok(bob, "insert", table=table, rows={"title": "bob 1"})
        mine = await ok(alice, "select", table=table, columns="title", order="title.asc")
        assert [r["title"] for r in mine] == ["alice 1", "alice 2"], mine
        theirs = await ok(bob, "select", table=table, columns="title")
        assert [r["title"] for r in theirs] == ["bob 1"], theirs
        assert (await ok(alice, "count", table=table))["count"] == 2
        await ok(alice, "update", table=table, filters={"title": "eq.alice 2"}, values={"title": "alice two"})
        gone = await ok(bob, "delete", table=table, filters={"title": "eq.alice 1"})
        assert gone == [], "bob deleted alice's row"
        assert "filters" in await refused(alice, "delete", table=table)
        # schema, user and SQL tools are service_role's
        for name, args in [("create_table", {"table": "mine", "columns": {"x": {"type": "text"}}}),
                           ("drop_table", {"table": table}), ("list_tables", {}),
                           ("enable_realtime", {"table": table}), ("disable_realtime", {"table": table}),
                           ("create_webhook", {"name": "w", "url": "https://a.example", "events": [f"{table}.insert"]}),
                           ("list_webhooks", {}), ("list_webhook_deliveries", {}),
                           ("execute_sql", {"query": "select 1"}), ("list_users", {})]:
            await refused(alice, name, **args)

    async with open_session(None) as anon:
        assert (await ok(anon, "select", table=table)) == []
        await refused(anon, "list_tables")
        await refused(anon, "execute_sql", query="select 1")

    async with open_session(SERVICE) as admin:
        rows = await ok(admin, "execute_sql", query=f"select title from {table} order by title")
        assert [r["title"] for r in rows["results"][0]["rows"]] == ["alice 1", "alice two", "bob 1"], rows
        assert "untrusted" in rows["note"]
        why = await refused(admin, "execute_sql", query=f"delete from {table}")
        assert "read-only" in why, why
        # one statement, inside the caller's transaction, as the caller: nothing may end the
        # transaction, change the role or leave the timeout behind (the audit's escape)
        escape = "COMMIT; SELECT current_setting('transaction_read_only'), current_user, current_setting('statement_timeout')"
        for read_only in (True, False):
            for query in [escape, "commit", "rollback", "begin", "select 1; select 2", "reset role",
                          "set role authenticator", "select set_config('role', 'authenticator', true)",
                          "do $$ begin execute 'reset role'; end $$", "do $$ begin commit; end $$"]:
                why = await refused(admin, "execute_sql", query=query, read_only=read_only)
                assert why, query
        who = await ok(admin, "execute_sql", query="select current_user as who, current_setting('transaction_read_only') as ro")
        assert who["results"][0]["rows"] == [{"who": "service_role", "ro": "on"}], who
        wrote = await ok(admin, "execute_sql", query=f"select current_user as who, current_setting('transaction_read_only') as ro", read_only=False)
        assert wrote["results"][0]["rows"] == [{"who": "service_role", "ro": "off"}], wrote
        # a session setting a statement leaves does not reach the next call on a pooled connection
        await ok(admin, "execute_sql", query="select set_config('audit.left_behind', 'yes', false)")
        for _ in range(3):
            left = await ok(admin, "execute_sql", query="select current_setting('audit.left_behind', true) as v")
            assert left["results"][0]["rows"][0]["v"] in (None, ""), left
        plan = await ok(admin, "explain", query=f"select * from {table}")
        assert plan["plan"], plan
        await ok(admin, "drop_table", table=table)


E2E = os.path.dirname(os.path.abspath(__file__))


def compiles(types, program):
    """Whether `program` type-checks against the generated `types` with supabase-js (tsc from
    tests/e2e/node_modules, pinned), and tsc's complaints."""
    with tempfile.TemporaryDirectory(dir=E2E, prefix=".types-") as folder:
        with open(os.path.join(folder, "database.types.ts"), "w") as f:
            f.write(types)
        with open(os.path.join(folder, "app.ts"), "w") as f:
            f.write(program)
        tsc = [os.path.join(E2E, "node_modules", ".bin", "tsc"), "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022",
               "--module", "esnext", "--moduleResolution", "bundler", os.path.join(folder, "app.ts")]
        done = subprocess.run(tsc, capture_output=True, text=True, timeout=120)
        return done.returncode == 0, done.stdout + done.stderr


APP = """import { createClient } from '@supabase/supabase-js'
import type { Database } from './database.types'

const supabase = createClient<Database>('http://127.0.0.1:3000', 'anon-key')

export async function run(): Promise<string> {
  const { data, error } = await supabase.from('PROJECTS').select('id, name, TASKS(title)')
  if (error || !data) return ''
  const name: string = data[0].name
  const titles: string[] = data[0].TASKS.map((t) => t.title)
  await supabase.from('PROJECTS').insert({ name: 'launch' })
  BROKEN
  return name + titles.join(', ')
}
"""


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def agent_run(open_session, p):
    """What an agent building an app does: context, two related tables with owner policies,
    advisors before and after fixing a deliberately open table, the docs, the logs."""
    projects, tasks, opened = f"{p}_projects", f"{p}_tasks", f"{p}_open"
    async with open_session(SERVICE) as admin:
        assert {"build_app", "secure_table"} <= {x.name for x in (await admin.list_prompts()).prompts}
        steps = await admin.get_prompt("build_app", {"app": "a shared todo list"})
        assert "get_context" in steps.messages[0].content.text and "a shared todo list" in steps.messages[0].content.text
        review = await admin.get_prompt("secure_table", {"table": projects})
        assert projects in review.messages[0].content.text

        ctx = await ok(admin, "get_context")
        assert ctx["urls"]["rest"] == os.environ["BKND_URL"] + "/rest/v1", ctx["urls"]
        assert ctx["urls"]["realtime"].startswith("ws"), ctx["urls"]
        assert ctx["caller"] == {"role": "service_role", "user_id": None, "bypasses_rls": True, "can_change_schema": True}, ctx["caller"]
        assert claims(ctx["keys"]["anon_key"])["role"] == "anon", ctx["keys"]
        assert any("edge functions" in a for a in ctx["bknd_does_not_offer"]), ctx["bknd_does_not_offer"]

        await ok(admin, "create_table", table=projects, columns={"name": {"type": "text", "required": True}})
        await ok(admin, "create_table", table=tasks, columns={"title": {"type": "text", "required": True}})
        await ok(admin, "create_relation", from_table=tasks, to_table=projects, kind="many_to_one")
        for table in (projects, tasks):
            await ok(admin, "allow", table=table, operations="all", role="authenticated", rule="owner")
        # the types an app is written against: a correct program compiles, one that names a
        # column that does not exist does not; the CLI prints the same file
        types = (await ok(admin, "generate_typescript_types"))["types"]
        assert "export type Database" in types and f"{projects}: {{" in types, types[:2000]
        app = APP.replace("PROJECTS", projects).replace("TASKS", tasks)
        good, why = compiles(types, app.replace("BROKEN", ""))
        assert good, why + "\n" + types
        for broken in [f"await supabase.from('{projects}').insert({{ name: 'x', nope: 1 }})",
                       f"const {{ data: bad }} = await supabase.from('{projects}').select('nope'); bad?.[0].nope.toUpperCase()"]:
            good, why = compiles(types, app.replace("BROKEN", broken))
            # refused on the broken line itself (line 12 of APP), not somewhere else
            assert not good and "app.ts(12," in why, broken + "\n" + why
        cli = subprocess.run([os.environ["BKND_BIN"], "gen", "types", "--database-url", os.environ["DATABASE_URL"]],
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout == types, cli.stdout[:2000]

        await ok(admin, "create_table", table=opened, columns={"note": {"type": "text"}})
        await ok(admin, "allow", table=opened, operations="select", role="anon", rule="true")

        found = await ok(admin, "get_advisors")
        flagged = [f for f in found if f["object"] == opened]
        assert [(f["level"], f["kind"]) for f in flagged] == [("warn", "anon_true_policy")], found
        assert "DROP POLICY" in flagged[0]["fix"] and "owner" in flagged[0]["fix"], flagged
        serious = [f for f in found if f["object"] in (projects, tasks) and f["level"] in ("error", "warn")]
        assert serious == [], serious
        await ok(admin, "revoke", table=opened, operations="select", role="anon", rule="true")
        after = await ok(admin, "get_advisors")
        assert [f["kind"] for f in after if f["object"] == opened] == ["rls_no_policy"], after

        hits = await ok(admin, "search_docs", query="realtime channel postgres_changes subscribe")
        assert hits[0]["page"] == "realtime.md", [h["page"] for h in hits]
        page = await admin.read_resource(hits[0]["uri"])
        assert page.contents[0].text.startswith("# Realtime"), page.contents[0].text[:80]
        uris = [str(r.uri) for r in (await admin.list_resources()).resources]
        assert "bknd://docs/realtime.md" in uris and "bknd://schema" in uris, uris

        changes = await ok(admin, "get_logs", log="schema", action="create_table")
        assert opened in [e["target"] for e in changes["entries"]], changes
        assert "log" in await refused(admin, "get_logs", log="console")

    async with open_session(A) as alice:
        ctx = await ok(alice, "get_context")
        assert ctx["caller"]["role"] == "authenticated" and ctx["caller"]["user_id"] and not ctx["caller"]["bypasses_rls"], ctx["caller"]
        assert "anon_key" not in ctx["keys"] and "service_role" not in str(ctx["keys"]).replace("never a service_role key", ""), ctx["keys"]
        mine = {t["table"]: t for t in ctx["tables"]}
        assert set(mine[projects]["can"]) == {"select", "insert", "update", "delete"}, mine[projects]
        assert any("owner_id" in (x["using"] or "") for x in mine[projects]["policies"]), mine[projects]
        assert "service_role" in await refused(alice, "get_logs", log="auth")
        await ok(alice, "get_advisors")

    async with open_session(SERVICE) as admin:
        for table in (tasks, projects, opened):
            await ok(admin, "drop_table", table=table)


async def main():
    # an invalid token is refused before any MCP message: 401 with WWW-Authenticate
    async with httpx2.AsyncClient() as http:
        r = await http.post(URL, headers={"Authorization": "Bearer not.a.token", "Accept": "application/json, text/event-stream"},
                            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        assert r.status_code == 401, r.status_code
        assert r.headers["www-authenticate"].startswith("Bearer"), r.headers
        r = await http.post(URL, headers={"Origin": "https://evil.example", "Accept": "application/json, text/event-stream"},
                            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        assert r.status_code == 403, r.status_code
        # closing a session answers what clients take as success (the SDK warns on 202)
        r = await http.post(URL, headers={"Authorization": f"Bearer {SERVICE}", "Accept": "application/json, text/event-stream"},
                            json={"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                  "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        session = r.headers.get("mcp-session-id")
        assert session, r.headers
        r = await http.delete(URL, headers={"Authorization": f"Bearer {SERVICE}", "mcp-session-id": session})
        assert r.status_code in (200, 204), r.status_code
    await scenario(over_http, "mcp_http_notes")
    await scenario(over_stdio, "mcp_stdio_notes")
    await agent_run(over_http, "agent_http")
    await agent_run(over_stdio, "agent_stdio")
    print("mcp: http and stdio scenarios and agent runs passed")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
