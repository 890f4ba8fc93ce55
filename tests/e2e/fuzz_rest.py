"""Schemathesis against bknd's REST API, driven by the OpenAPI document at /rest/v1/.

Run by tests/tests/openapi_fuzz.rs with BKND_URL, SERVICE_KEY and ANON_KEY set, on a database
it filled with a few tables, a view, functions and policies. For each caller (service_role with
`Authorization: Bearer`, anon with only the `apikey` header) it fetches the document as that
caller sees it, checks it names what the caller may use, then fuzzes every operation in it:
no 5xx, no response that breaks the documented schema or content types. Deterministic (no
randomness, no example database) and bounded in time. Exits non-zero on failure.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request

from openapi_spec_validator import validate

BASE = os.environ["BKND_URL"]
SCHEMATHESIS = os.path.join(os.path.dirname(sys.executable), "schemathesis")
# every 5xx and every schema break is a finding; status codes are not checked, as PostgREST's
# document (which this one follows) lists only the success statuses
# fuzz_hooks.py: schemathesis' content type check less the empty 201/204 (no body, no type)
CHECKS = "not_a_server_error,response_schema_conformance,content_type_unless_empty"
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "12")


def document(headers):
    req = urllib.request.Request(BASE + "/rest/v1/", headers={"Accept": "application/openapi+json", **headers})
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.load(r)


def fuzz(name, headers, must_have, must_not_have):
    doc = document(headers)
    paths = set(doc["paths"])
    missing = [p for p in must_have if p not in paths]
    leaked = [p for p in must_not_have if p in paths]
    if missing or leaked:
        print(f"{name}: the document misses {missing} or shows {leaked}: {sorted(paths)}")
        return False
    # a valid Swagger 2.0 document first (every $ref resolves, every parameter well formed)
    validate(doc)
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "openapi.json")
        with open(spec, "w") as f:
            json.dump(doc, f)
        cmd = [
            SCHEMATHESIS, "run", spec,
            "--url", BASE + "/rest/v1",
            "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", MAX_EXAMPLES,
            "--generation-deterministic",
            "--workers", "1",
            "--request-timeout", "10",
            "--max-failures", "50",
            "--no-color",
            "--output-truncate", "false",
            "--report", "ndjson",
            "--report-dir", tmp,
        ]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        print(f"== {name}: {len(paths)} paths", flush=True)
        env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_hooks", PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        done = subprocess.run(cmd, cwd=tmp, env=env, timeout=300)
        return done.returncode == 0


service = os.environ["SERVICE_KEY"]
anon = os.environ["ANON_KEY"]
everything = ["/items", "/authors", "/codes", "/cheap_items", "/rpc/add_them", "/rpc/items_over", "/rpc/rename_author"]
results = [
    fuzz("service_role", {"Authorization": f"Bearer {service}", "apikey": service}, everything, []),
    # anon: only the apikey header, as a browser app without a session sends it
    fuzz("anon", {"apikey": anon}, ["/items", "/authors", "/codes", "/cheap_items", "/rpc/add_them"], ["/secrets", "/rpc/items_over"]),
]
if not all(results):
    sys.exit(1)
print("fuzz: no failure")
