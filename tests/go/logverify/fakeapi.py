#!/usr/bin/env python3
"""A fake of Signet's API for logverify's selftest: GET /<variant>/v1/whoami
and GET /<variant>/v1/audit?limit=L&after=N, as docs/api.md has them, out of
ROOT/<variant>/whoami.json and ROOT/<variant>/records.json (written by
mklog -audit, edited by the selftest; read again on every request).

    fakeapi.py PORT ROOT

The bearer token must be the one in ROOT/token (401 otherwise); the token
"forbidden" gets 403 and "operator" an operator's whoami (subscriber null)
and 403 on the audit records. The audit records are listed in id order, at
most min(L, 7) a page (so that logverify pages), next_after the last id
listed (N when none). If ROOT/<variant>/hook exists (a JSON argv), the first
audit request for a page of 1000 (logverify's walk, not the one record it
asks for before reading the log) runs it, then renames it hook.done. Every request's path is
appended to ROOT/requests.log.
"""
import http.server
import json
import os
import subprocess
import sys
import urllib.parse

PAGE = 7

port, root = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(os.path.join(root, "requests.log"), "a") as log:
            log.write(self.path + "\n")
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != "v1" or parts[2] not in ("whoami", "audit"):
            return self.answer(404, {"error": "not_found", "message": "no such route"})
        d = os.path.join(root, parts[0])
        if not os.path.isdir(d):
            return self.answer(404, {"error": "not_found", "message": "no such variant"})
        auth = self.headers.get("Authorization", "")
        with open(os.path.join(root, "token")) as f:
            token = f.read().strip()
        if auth == "Bearer operator":
            if parts[2] == "whoami":
                return self.answer(200, {"token_id": "op", "subscriber": None, "admin": True})
            return self.answer(403, {"error": "forbidden", "message": "an operator reads GET /v1/admin/audit"})
        if auth == "Bearer forbidden":
            return self.answer(403, {"error": "forbidden", "message": "the token may not read the audit log"})
        if auth != "Bearer " + token:
            return self.answer(401, {"error": "unauthorized", "message": "unknown token"})
        if parts[2] == "whoami":
            with open(os.path.join(d, "whoami.json")) as f:
                return self.answer(200, json.load(f))
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=True)
        try:
            limit = int(q["limit"][0])
            after = int(q["after"][0])
            if not 1 <= limit <= 1000 or after < 0 or set(q) != {"limit", "after"}:
                raise ValueError
        except (KeyError, ValueError):
            return self.answer(400, {"error": "bad_request", "message": "limit 1..1000 and after"})
        hook = os.path.join(d, "hook")
        if limit == 1000 and os.path.exists(hook):
            with open(hook) as f:
                argv = json.load(f)
            os.rename(hook, hook + ".done")
            subprocess.run(argv, check=True)
        with open(os.path.join(d, "records.json")) as f:
            records = json.load(f)
        page = sorted((r for r in records if r["id"] > after), key=lambda r: r["id"])
        page = page[:min(limit, PAGE)]
        self.answer(200, {"records": page, "next_after": page[-1]["id"] if page else after})


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
