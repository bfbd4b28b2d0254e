// ws_bcast.js: the `ws` peer of the broadcast bench: the broadcast loop of
// the ws README ("Server broadcast", every client including the sender),
// run with Debian's nodejs. bench/run.py starts it with NODE_PATH set to
// build/bench/node_modules (bench/deps.sh installs ws there) and stops it
// by PID.
//   node bench/ws_bcast.js PORT
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, backlog: 4096 });

wss.on('connection', function connection(ws) {
  ws.on('error', console.error);
  ws.on('message', function message(data, isBinary) {
    wss.clients.forEach(function each(client) {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    });
  });
});
