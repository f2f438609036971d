// Node `ws` echo server for the fiberws benchmarks.
//   NODE_PATH=build/node/node_modules node bench/peers/node/echo.js [--addr 127.0.0.1:8080] [--compress] [--broadcast]
// Echoes every message on /echo and /ws/:id; prints "listening on PORT" once it accepts connections.
//   --compress   perMessageDeflate: true (ws's defaults: context takeover, zlib's default level, messages under
//                1 KiB sent uncompressed)
//   --broadcast  /echo and /ws/:id connections only receive: every message read on /publish is sent to each of
//                them (wss.clients.forEach)
'use strict';
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

let addr = '127.0.0.1:8080';
let compress = false;
let broadcast = false;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--addr' && i + 1 < process.argv.length) addr = process.argv[++i];
  else if (process.argv[i] === '--compress') compress = true;
  else if (process.argv[i] === '--broadcast') broadcast = true;
  else { console.error('usage: echo.js [--addr HOST:PORT] [--compress] [--broadcast]'); process.exit(2); }
}
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep) || '0.0.0.0';
const port = Number(addr.slice(sep + 1));

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: compress, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  if (!broadcast) ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
// the publisher connections are not tracked, so wss.clients holds the subscribers only
const pub = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: compress,
                                  maxPayload: 64 * 1024 * 1024 });
pub.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    wss.clients.forEach((c) => { if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary }); });
  });
  ws.on('error', () => {});
});
server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  if (path === '/echo' || /^\/ws\/[^/]+$/.test(path)) {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  } else if (broadcast && path === '/publish') {
    pub.handleUpgrade(req, socket, head, (ws) => pub.emit('connection', ws, req));
  } else {
    socket.destroy();
  }
});
server.listen(port, host, () => {
  console.log(`listening on ${server.address().port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
