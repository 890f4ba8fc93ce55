"""A webhook receiver that checks bknd's deliveries with the PyPI `standardwebhooks` package,
for a Rust test: an independent implementation of Standard Webhooks verifying what bknd signs.

Started as `.tools/venv/bin/python tests/e2e/webhook_receiver.py`. The protocol, one line each:
  stdout  PORT <n>           it listens on 127.0.0.1:<n> (a free port the system chose)
  stdin   <secret>           the webhook's whsec_... secret (the test creates the webhook once it
                             knows the port, so the secret comes after)
  stdout  {"id": ..., "verified": ..., "error": ..., "payload": ..., "tampered_rejected": ...}
                             for every POST, answered 204: id is the webhook-id header; verified
                             whether Webhook(secret).verify(body, headers) accepted it (error: why
                             not, else null); payload the body as JSON (null if it is none);
                             tampered_rejected whether the same check refused the body with one
                             byte changed (it must: a signature that does not cover the body is
                             no signature)
It exits when stdin closes. Nothing else is written to stdout (the test reads it line by line).
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

# set once the secret line is read; a request that comes before waits for it
SECRET_READY = threading.Event()
SECRET = {"value": None}
# one JSON line at a time, whole, from any handler thread
OUT = threading.Lock()
# how long a request waits for the secret before it is reported unverified
SECRET_WAIT_SECONDS = 30


def emit(obj):
    with OUT:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def tampered(body):
    """The body with one byte changed, still valid UTF-8 (so that only the signature can refuse
    it, not a decoding error): the last ASCII byte, flipped to another ASCII character."""
    if not body:
        return b"x"
    data = bytearray(body)
    for i in range(len(data) - 1, -1, -1):
        if data[i] < 0x80:
            data[i] ^= 0x01  # '}' becomes '|', 'a' becomes '`': ASCII still
            return bytes(data)
    # no ASCII byte at all (not JSON): append one
    return bytes(data) + b"x"


class Handler(BaseHTTPRequestHandler):
    # answers carry Content-Length, so keep-alive is safe; bknd may reuse the connection
    protocol_version = "HTTP/1.1"

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self):
        body = self.read_body()
        headers = {k: v for k, v in self.headers.items()}
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            payload = None
        verified, error, tampered_rejected = False, None, False
        if not SECRET_READY.wait(SECRET_WAIT_SECONDS):
            error = "no secret was given on stdin"
        else:
            try:
                Webhook(SECRET["value"]).verify(body, headers, json_parse=False)
                verified = True
            except Exception as e:  # any failure (a bad secret too) is a failed verification, reported
                error = "%s: %s" % (type(e).__name__, e)
            try:
                Webhook(SECRET["value"]).verify(tampered(body), headers, json_parse=False)
                tampered_rejected = False
            except WebhookVerificationError:
                tampered_rejected = True
            except Exception:
                # refused, but not by the signature check: not what is being tested
                tampered_rejected = False
        emit({
            "id": self.headers.get("webhook-id"),
            "verified": verified,
            "error": error,
            "payload": payload,
            "tampered_rejected": tampered_rejected,
        })
        # answered after the line is out: once bknd has recorded the delivery, the test has it
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        # http.server logs every request to stderr; the test wants neither stream cluttered
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with OUT:
        sys.stdout.write("PORT %d\n" % server.server_address[1])
        sys.stdout.flush()

    line = sys.stdin.readline()
    if line:
        SECRET["value"] = line.strip()
        SECRET_READY.set()
        # then wait for stdin to close: the test is done
        while sys.stdin.readline():
            pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
