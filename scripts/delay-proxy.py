"""An HTTP reverse proxy for 127.0.0.1 that holds every request for a fixed delay before passing
it to the upstream (a local moto), to make AWS's per-call latency visible in benchmarks and to
slow an apply down enough to interrupt it in tests.

    python delay-proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS

Prints "ready" once listening. Listens and connects only on 127.0.0.1.
"""

import http.client
import http.server
import sys
import time

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


def main():
    listen_port, upstream_port, delay_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            time.sleep(delay_ms / 1000.0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            # A fresh upstream connection per request (moto closes each one after its
            # response), and never a second send: a resent request could be applied twice.
            try:
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
            except (http.client.HTTPException, OSError):
                self.send_error(502)
                return
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
