"""The Python `mcp` client against bknd's MCP server, over Streamable HTTP and over stdio.

With a service_role token it creates a table and a policy; two users insert and select and
each sees only their own rows; schema and SQL tools are refused to user and anon tokens; a bad
argument is a tool error the model can read; an invalid token gets 401. The Rust test
(tests/tests/e2e_clients.rs) passes BKND_URL, BKND_BIN, DATABASE_URL, SERVICE_KEY, TOKEN_A,
TOKEN_B, ANON_KEY.
"""

import asyncio
import contextlib
import os
import sys

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
    env = {"DATABASE_URL": os.environ["DATABASE_URL"], "BKND_LOG": "warn", "PATH": os.environ.get("PATH", "")}
    args = ["mcp"] + (["--token", token] if token else [])
    params = StdioServerParameters(command=os.environ["BKND_BIN"], args=args, env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def call(session, name, **arguments):
    result = await session.call_tool(name, arguments)
    return result.is_error, result.structured_content


async def ok(session, name, **arguments):
    is_error, content = await call(session, name, **arguments)
    assert not is_error, f"{name} failed: {content}"
    return content["result"]


async def refused(session, name, **arguments):
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
        # a bad argument is a tool error with a message, not a protocol error
        why = await refused(admin, "create_table", table="bad name!", columns={"x": {"type": "text"}})
        assert "name" in why.lower(), why
        why = await refused(admin, "add_column", table=table, column="n", spec={"type": "no-such-type"})
        assert why, why
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
        plan = await ok(admin, "explain", query=f"select * from {table}")
        assert plan["plan"], plan
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
    await scenario(over_http, "mcp_http_notes")
    await scenario(over_stdio, "mcp_stdio_notes")
    print("mcp: http and stdio scenarios passed")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
