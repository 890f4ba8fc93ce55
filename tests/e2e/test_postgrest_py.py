"""Python `postgrest` against bknd: the same table, policies and users as the JS test, but
fresh rows (the Rust test runs this after re-creating the data). Exits non-zero on failure."""

import os
import sys

from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError

URL = os.environ["BKND_URL"] + "/rest/v1"


def client(token=None):
    headers = {"apikey": os.environ["ANON_KEY"]}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return SyncPostgrestClient(URL, headers=headers)


alice, bob, anon = client(os.environ["TOKEN_A"]), client(os.environ["TOKEN_B"]), client()
failures = []


def check(name, got, want):
    if got != want:
        failures.append(f"{name}: got {got!r}, want {want!r}")


# insert (representation is the client's default)
rows = alice.from_("notes").insert([
    {"title": "py-1", "rank": 1, "author_id": os.environ["AUTHOR_ID"]},
    {"title": "py-2", "rank": 2},
    {"title": "py-public", "rank": 500},
]).execute().data
check("insert count", len(rows), 3)
check("owner", {r["owner_id"] for r in rows}, {os.environ["USER_A"]})
bob.from_("notes").insert({"title": "py-bob", "rank": 3}).execute()

# RLS: each user their own, anon the public ones
check("alice sees", sorted(r["title"] for r in alice.from_("notes").select("title").execute().data), ["py-1", "py-2", "py-public"])
check("bob sees", [r["title"] for r in bob.from_("notes").select("title").execute().data], ["py-bob"])
check("anon sees", [r["title"] for r in anon.from_("notes").select("title").execute().data], ["py-public"])

# filters, order, range with count
res = alice.from_("notes").select("title", count="exact").gte("rank", 1).order("rank", desc=True).range(0, 1).execute()
check("range data", [r["title"] for r in res.data], ["py-public", "py-2"])
check("range count", res.count, 3)
check("like", [r["title"] for r in alice.from_("notes").select("title").like("title", "py-p*").execute().data], ["py-public"])

# embedding
emb = alice.from_("notes").select("title, authors(name)").eq("title", "py-1").single().execute().data
check("embed", emb, {"title": "py-1", "authors": {"name": "Ann"}})

# upsert, update, delete
one = alice.from_("notes").select("id").eq("title", "py-1").single().execute().data
up = alice.from_("notes").upsert({"id": one["id"], "title": "py-1b", "rank": 1}).execute().data
check("upsert", [r["title"] for r in up], ["py-1b"])
upd = alice.from_("notes").update({"rank": 9}).eq("title", "py-2").execute().data
check("update", [(r["title"], r["rank"]) for r in upd], [("py-2", 9)])
check("bob update", bob.from_("notes").update({"rank": 0}).eq("title", "py-2").execute().data, [])
dele = alice.from_("notes").delete().eq("title", "py-1b").execute().data
check("delete", [r["title"] for r in dele], ["py-1b"])

# rpc
check("rpc", alice.rpc("note_count", {}).execute().data, 2)
check("rpc bob", bob.rpc("note_count", {}).execute().data, 1)

# errors
try:
    alice.from_("notes").select("nope").execute()
    failures.append("unknown column: no error")
except APIError as e:
    check("unknown column code", e.code, "42703")
try:
    anon.from_("notes").insert({"title": "x"}).execute()
    failures.append("anon insert: no error")
except APIError as e:
    check("anon insert code", e.code, "42501")

for f in failures:
    print("FAIL", f)
print(f"python postgrest: {len(failures)} failures")
sys.exit(1 if failures else 0)
