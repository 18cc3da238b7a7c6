#!/usr/bin/env python3
"""
notice_receiver.py: a CA's webhook for the reports' notices (issue 18), for
test_reports.sh.

  notice_receiver.py PORTFILE DIR FAILS

Serves HTTP on 127.0.0.1 on a free port, written to PORTFILE once it
listens. Each POST is kept as DIR/N.body and its Signet-Signature header
as DIR/N.sig (N = 1, 2, ...); the first FAILS are answered 503, the rest
200. The server stops by itself after 5 minutes.
"""
import http.server
import os
import sys
import threading

PORTFILE, DIR, FAILS = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        global count
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with lock:
            count += 1
            k = count
        with open(os.path.join(DIR, "%d.body" % k), "wb") as f:
            f.write(body)
        with open(os.path.join(DIR, "%d.sig" % k), "w") as f:
            f.write(self.headers.get("Signet-Signature", ""))
        status = 503 if k <= FAILS else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
threading.Timer(300, server.shutdown).start()
server.serve_forever()
