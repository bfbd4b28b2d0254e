"""The Tornado peer of the benchmark: an HTTP handler that returns the bytes of
netdemo's welcome page for GET /, and a TCPServer echo. Run it with Debian's
/usr/bin/python3 (python3-tornado only loads there); bench/run.py starts and
stops it by PID."""

import argparse
import asyncio

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.tcpserver
import tornado.web

BACKLOG = 4096  # the same as netdemo, nginx and the ceiling in the bench


class Page(tornado.web.RequestHandler):
    def initialize(self, body):
        self.body = body

    def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(self.body)


class Echo(tornado.tcpserver.TCPServer):
    async def handle_stream(self, stream, address):
        try:
            while True:
                data = await stream.read_bytes(65536, partial=True)
                await stream.write(data)
        except tornado.iostream.StreamClosedError:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", type=int, required=True)
    ap.add_argument("--echo", type=int, required=True)
    ap.add_argument("--body", required=True)
    args = ap.parse_args()
    with open(args.body, "rb") as f:
        body = f.read()

    app = tornado.web.Application([(r"/", Page, {"body": body})])
    http = tornado.httpserver.HTTPServer(app)
    http.add_sockets(tornado.netutil.bind_sockets(args.http, "127.0.0.1", backlog=BACKLOG))
    echo = Echo()
    echo.add_sockets(tornado.netutil.bind_sockets(args.echo, "127.0.0.1", backlog=BACKLOG))
    await asyncio.Event().wait()  # until SIGTERM ends the process


if __name__ == "__main__":
    asyncio.run(main())
