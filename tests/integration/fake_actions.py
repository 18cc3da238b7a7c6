#!/usr/bin/env python3
"""
fake_actions.py: GitHub Actions' ID token request endpoint, as a runner
serves it to a job (ACTIONS_ID_TOKEN_REQUEST_URL), for test_oidc_client.sh.

  fake_actions.py PORT CERT KEY REQUEST_TOKEN LOG MINT...

Serves HTTPS on 127.0.0.1:PORT only. A GET must carry
"Authorization: bearer REQUEST_TOKEN" (the scheme in any case, as GitHub
accepts); it answers {"count": N, "value": JWT} with a token minted by
running MINT... with OIDC_AUD set to the request's audience parameter
(empty if none), and 401 otherwise. Each request appends one line to LOG:
"auth=ok|bad audience=A". The server stops by itself after 10 minutes.
"""
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.parse

PORT, CERT, KEY, REQUEST_TOKEN, LOG = sys.argv[1:6]
MINT = sys.argv[6:]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global count
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        aud = query.get("audience", [""])[0]
        scheme, _, cred = self.headers.get("Authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and cred == REQUEST_TOKEN
        with open(LOG, "a") as f:
            f.write("auth=%s audience=%s\n" % ("ok" if ok else "bad", aud))
        if not ok:
            self.answer(401, {"message": "Bad credentials"})
            return
        env = dict(os.environ, OIDC_AUD=aud)
        jwt = subprocess.run(MINT, env=env, check=True, capture_output=True,
                             text=True, timeout=30).stdout.strip()
        count += 1
        self.answer(200, {"count": count, "value": jwt})


server = http.server.HTTPServer(("127.0.0.1", int(PORT)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
threading.Timer(600, server.shutdown).start()
server.serve_forever()
