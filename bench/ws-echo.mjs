#!/usr/bin/env node
// WebSocket echo for bench.mjs's tunnel row (RFC 6455), in two roles:
//
//   node bench/ws-echo.mjs server PORT
//     An echo backend on node:http's 'upgrade' event: each masked frame comes back unmasked. Prints "ready".
//   node bench/ws-echo.mjs client PORT PATH CONNS SECONDS [SIZE]
//     CONNS connections, each a ping-pong of SIZE-byte text messages (default 64) for SECONDS after its
//     handshake; prints one JSON line {"messages": N, "seconds": S, "failed": F}.
//
// Frames up to 65,535 bytes, unfragmented: enough for a load test, not a WebSocket implementation.
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const [role = '', portText = '0', ...rest] = process.argv.slice(2);
const port = Number(portText);

/**
 * The frames complete in `buf` from `off`: calls `each(opcode, payload)` and returns where the unread part starts.
 * @param {Buffer} buf
 * @param {(opcode: number, payload: Buffer) => void} each
 */
function frames(buf, each) {
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) return off;
    const b1 = buf[off + 1] ?? 0;
    const masked = (b1 & 0x80) !== 0;
    let n = b1 & 0x7f;
    let p = off + 2;
    if (n === 126) {
      if (buf.length - off < 4) return off;
      n = buf.readUInt16BE(off + 2);
      p = off + 4;
    }
    const start = p + (masked ? 4 : 0);
    if (buf.length < start + n) return off;
    const payload = Buffer.from(buf.subarray(start, start + n));
    if (masked) for (let i = 0; i < n; i++) payload[i] = (payload[i] ?? 0) ^ (buf[p + (i & 3)] ?? 0);
    each((buf[off] ?? 0) & 0x0f, payload);
    off = start + n;
  }
}

/**
 * An unmasked frame (a server's).
 * @param {number} opcode
 * @param {Buffer} payload
 */
function serverFrame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]);
  return Buffer.concat([head, payload]);
}

function server() {
  const srv = http.createServer((_req, res) => {
    res.end('ws-echo\n');
  });
  srv.on(
    'upgrade',
    (/** @type {http.IncomingMessage} */ req, /** @type {net.Socket} */ socket, /** @type {Buffer} */ head) => {
      socket.on('error', () => undefined);
      socket.setNoDelay(true);
      const accept = createHash('sha1')
        .update(String(req.headers['sec-websocket-key']) + GUID)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      /** @type {Buffer} */
      let buf = Buffer.alloc(0);
      /** @param {Buffer} d */
      const onData = (d) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        const used = frames(buf, (opcode, payload) => {
          if (opcode === 0x8) socket.end(serverFrame(0x8, payload));
          else socket.write(serverFrame(opcode === 0x9 ? 0xa : opcode, payload));
        });
        buf = buf.subarray(used);
      };
      socket.on('data', onData);
      if (head.length > 0) onData(head);
    },
  );
  srv.listen(port, '127.0.0.1', () => {
    process.stdout.write('ready\n');
  });
}

/**
 * One connection's ping-pong until `until` (ms since epoch); resolves with the messages echoed.
 * @param {string} path
 * @param {number} size
 * @param {number} seconds
 * @returns {Promise<number>}
 */
function pingPong(path, size, seconds) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const mask = randomBytes(4);
    const payload = Buffer.alloc(size, 0x61);
    const head =
      size < 126 ? Buffer.from([0x81, 0x80 | size]) : Buffer.from([0x81, 0x80 | 126, size >> 8, size & 0xff]);
    const body = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) body[i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
    const message = Buffer.concat([head, mask, body]); // one masking key for all: the server unmasks each anyway
    const reply = (size < 126 ? 2 : 4) + size;
    let shaken = false;
    let pending = Buffer.alloc(0);
    let got = 0;
    let count = 0;
    let until = 0;
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.setNoDelay(true);
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    s.on('error', reject);
    s.on('close', () => {
      if (until === 0 || Date.now() < until) reject(new Error(`closed after ${count} messages`));
      else resolve(count);
    });
    s.on('data', (/** @type {Buffer} */ d) => {
      if (!shaken) {
        pending = Buffer.concat([pending, d]);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!pending.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
          reject(new Error(`no 101: ${pending.toString('latin1', 0, Math.min(end, 200))}`));
          s.destroy();
          return;
        }
        shaken = true;
        until = Date.now() + seconds * 1000;
        s.write(message);
        return;
      }
      got += d.length;
      while (got >= reply) {
        got -= reply;
        count++;
        if (Date.now() >= until) {
          s.destroy();
          return;
        }
        s.write(message);
      }
    });
  });
}

async function client() {
  const [path = '/ws/', connsText = '50', secondsText = '5', sizeText = '64'] = rest;
  const conns = Number(connsText);
  const seconds = Number(secondsText);
  const t0 = Date.now();
  const runs = await Promise.allSettled(Array.from({ length: conns }, () => pingPong(path, Number(sizeText), seconds)));
  let messages = 0;
  let failed = 0;
  for (const r of runs) {
    if (r.status === 'fulfilled') messages += r.value;
    else failed++;
  }
  process.stdout.write(`${JSON.stringify({ messages, seconds: (Date.now() - t0) / 1000, failed })}\n`);
}

if (role === 'server') server();
else if (role === 'client') await client();
else {
  process.stderr.write('usage: ws-echo.mjs server PORT | client PORT PATH CONNS SECONDS [SIZE]\n');
  process.exit(2);
}
