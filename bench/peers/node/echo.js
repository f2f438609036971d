// Node `ws` echo server for the fiberws benchmarks.
//   NODE_PATH=build/node/node_modules node bench/peers/node/echo.js [--addr 127.0.0.1:8080]
// Echoes every message on /echo and /ws/:id; prints "listening on PORT" once it accepts connections.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

let addr = '127.0.0.1:8080';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--addr' && i + 1 < process.argv.length) addr = process.argv[++i];
  else { console.error('usage: echo.js [--addr HOST:PORT]'); process.exit(2); }
}
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep) || '0.0.0.0';
const port = Number(addr.slice(sep + 1));

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  if (path === '/echo' || /^\/ws\/[^/]+$/.test(path)) {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  } else {
    socket.destroy();
  }
});
server.listen(port, host, () => {
  console.log(`listening on ${server.address().port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
