"""A small OAuth 2 / OpenID Connect provider on 127.0.0.1 for bknd's sign-in tests.

It speaks both dialects bknd uses: OIDC (discovery, /authorize, /token, /userinfo) and
GitHub's (/login/oauth/authorize, /login/oauth/access_token, /user, /user/emails). It checks
what a real provider checks: the client id and secret, the redirect_uri given at /authorize,
one use per code, and PKCE (S256) - so bknd's side of the protocol is tested, not assumed.

Who signs in is set by the test: POST /_next with a JSON profile (or {"deny": true} to refuse
consent). GET /_log answers how many codes were exchanged and refused.

usage: python oauth_provider.py PORT CLIENT_ID CLIENT_SECRET
"""

import base64
import hashlib
import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

PORT, CLIENT_ID, CLIENT_SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ISSUER = f"http://127.0.0.1:{PORT}"

state = {"next": {}, "codes": {}, "tokens": {}, "log": {"exchanged": 0, "refused": 0}}


class Provider(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def profile(self):
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        return state["tokens"].get(token)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            return self.answer(200, {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "userinfo_endpoint": f"{ISSUER}/userinfo",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
            })
        if url.path in ("/authorize", "/login/oauth/authorize"):
            return self.authorize(q)
        if url.path == "/_log":
            return self.answer(200, state["log"])
        who = self.profile()
        if who is None:
            return self.answer(401, {"error": "invalid_token"})
        if url.path == "/userinfo":
            return self.answer(200, {k: v for k, v in who.items() if k != "emails"})
        if url.path == "/user":
            return self.answer(200, {"id": who["id"], "login": who.get("login"), "name": who.get("name"),
                                     "avatar_url": who.get("avatar_url"), "email": who.get("email")})
        if url.path == "/user/emails":
            return self.answer(200, who.get("emails", []))
        return self.answer(404, {"error": "not_found"})

    def authorize(self, q):
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return self.answer(400, {"error": "invalid_client"})
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            return self.answer(400, {"error": "invalid_request", "error_description": "PKCE S256 required"})
        back = q["redirect_uri"]
        sep = "&" if "?" in back else "?"
        if state["next"].get("deny"):
            return self.redirect(back + sep + urlencode({"error": "access_denied", "error_description": "the user said no",
                                                          "state": q.get("state", "")}))
        code = secrets.token_urlsafe(16)
        state["codes"][code] = {"challenge": q["code_challenge"], "redirect_uri": back, "profile": state["next"]}
        self.redirect(back + sep + urlencode({"code": code, "state": q.get("state", "")}))

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        if url.path == "/_next":
            state["next"] = json.loads(raw)
            return self.answer(200, {})
        if url.path not in ("/token", "/login/oauth/access_token"):
            return self.answer(404, {"error": "not_found"})
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        grant = state["codes"].pop(form.get("code", ""), None)  # a code works once
        verifier = form.get("code_verifier", "")
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        ok = (grant is not None and form.get("grant_type") == "authorization_code"
              and form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
              and form.get("redirect_uri") == grant["redirect_uri"] and computed == grant["challenge"])
        if not ok:
            state["log"]["refused"] += 1
            return self.answer(400, {"error": "invalid_grant", "error_description": "bad code, client or verifier"})
        state["log"]["exchanged"] += 1
        token = secrets.token_urlsafe(24)
        state["tokens"][token] = grant["profile"]
        self.answer(200, {"access_token": token, "token_type": "bearer", "scope": "openid email profile"})


ThreadingHTTPServer(("127.0.0.1", PORT), Provider).serve_forever()
