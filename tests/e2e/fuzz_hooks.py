"""Schemathesis hooks for tests/e2e/fuzz_rest.py (loaded through SCHEMATHESIS_HOOKS)."""

import sys

import schemathesis
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
