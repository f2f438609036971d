// Interop: Node's `ws` client against a fiberws echo server.
// Usage: node node_client.cjs URL NODE_MODULES_DIR [deflate]   (deflate: offer permessage-deflate and require it)
'use strict';
const path = require('path');
const WebSocket = require(path.resolve(process.argv[3], "ws"));
const crypto = require('crypto');

const url = process.argv[2];
const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 30000);
let passed = 0, failed = 0;
function check(ok, what) { if (ok) passed++; else { failed++; console.error('FAIL: ' + what); } }

const deflate = process.argv[4] === 'deflate';
const ws = new WebSocket(url, {
  perMessageDeflate: deflate ? { threshold: 0, serverMaxWindowBits: 12, clientNoContextTakeover: false } : false,
  maxPayload: 64 << 20,
});
const sent = [
  { data: 'hello from node', binary: false },
  { data: Buffer.from([0, 1, 2, 253, 254, 255]), binary: true },
  { data: 'κόσμε — unicode ✓', binary: false },
  { data: crypto.randomBytes(1 << 20), binary: true },
  { data: '', binary: false },
  { data: crypto.randomBytes(16 << 20), binary: true },              // 16 MiB in one message
  { data: crypto.randomBytes(3000 * 7), binary: true, fragments: 3000 }, // one message in 3000 frames
];
let next = 0;
function sendMessage(m) {
  if (!m.fragments) { ws.send(m.data, { binary: m.binary }); return; }
  const piece = m.data.length / m.fragments;
  for (let i = 0; i < m.fragments; i++) {
    ws.send(m.data.subarray(i * piece, (i + 1) * piece), { binary: m.binary, fin: i === m.fragments - 1 });
  }
}
ws.on('open', () => {
  if (deflate) check(/permessage-deflate/.test(ws.extensions), `extensions: '${ws.extensions}'`);
  sendMessage(sent[0]);
});
ws.on('message', (data, isBinary) => {
  const want = sent[next];
  const wantBuf = Buffer.isBuffer(want.data) ? want.data : Buffer.from(want.data, 'utf8');
  check(isBinary === want.binary, `message ${next}: binary flag ${isBinary}`);
  check(Buffer.compare(Buffer.from(data), wantBuf) === 0, `message ${next}: payload differs (${data.length} vs ${wantBuf.length} bytes)`);
  next++;
  if (next < sent.length) sendMessage(sent[next]);
  else ws.close(1000, 'done');
});
ws.on('close', (code, reason) => {
  check(code === 1000, `close code ${code}`);
  check(next === sent.length, `only ${next} of ${sent.length} echoes arrived`);
  clearTimeout(timer);
  console.log(`node ws interop: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
});
ws.on('error', (e) => { console.error('FAIL: error ' + e.message); process.exit(1); });
