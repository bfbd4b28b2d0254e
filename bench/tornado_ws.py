"""The Tornado peer of the WebSocket broadcast bench: a WebSocketHandler
whose every text message goes to every member, the sender included, as the
ws README's broadcast loop does. Run with Debian's /usr/bin/python3;
bench/run.py starts and stops it by PID.
    python3 bench/tornado_ws.py PORT"""

import asyncio
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

BACKLOG = 4096
members = set()


class Room(tornado.websocket.WebSocketHandler):
    def open(self):
        members.add(self)

    def on_message(self, message):
        for m in members:
            try:
                m.write_message(message)
            except tornado.websocket.WebSocketClosedError:
                pass

    def on_close(self):
        members.discard(self)


async def main():
    port = int(sys.argv[1])
    app = tornado.web.Application([(r"/.*", Room)], websocket_max_message_size=1 << 20)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(tornado.netutil.bind_sockets(port, "127.0.0.1", backlog=BACKLOG))
    await asyncio.Event().wait()  # until SIGTERM ends the process


if __name__ == "__main__":
    asyncio.run(main())
