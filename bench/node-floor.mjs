#!/usr/bin/env node
// The floor of any server built on Node's node:net and child_process, run by bench.mjs beside ours, nginx and
// lighttpd (column "bare Node"). It parses nothing, routes nothing and reads no file: every request gets the same
// 1 KiB (honouring `Connection: close`), except /cgi-bin/hello.py, which runs the script with `spawn` as ours does
// and answers its body. Where ours is close to this floor and the floor is below a target, the gap is Node's cost
// per connection or per child (fork of the Node process), not our code.
//
// Usage: node bench/node-floor.mjs PORT PYTHON CGI_SCRIPT
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

/**
 * Command-line argument `i` (0: PORT, 1: PYTHON, 2: CGI_SCRIPT).
 * @param {number} i
 * @returns {string}
 */
function arg(i) {
  const v = process.argv[2 + i];
  if (v === undefined) throw new Error('usage: node bench/node-floor.mjs PORT PYTHON CGI_SCRIPT');
  return v;
}
const port = arg(0);
const python = arg(1);
const script = arg(2);
const body = Buffer.alloc(1024, 120);
/** @type {(close: boolean, length: number) => string} */
const head = (close, length) =>
  `HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/html\r\nContent-Length: ${length}\r\nConnection: ${close ? 'close' : 'keep-alive'}\r\n\r\n`;
const fixed = {
  false: Buffer.concat([Buffer.from(head(false, 1024)), body]),
  true: Buffer.concat([Buffer.from(head(true, 1024)), body]),
};

/**
 * @param {net.Socket} socket
 * @param {boolean} close
 */
function cgi(socket, close) {
  const child = spawn(python, [script], {
    cwd: path.dirname(script),
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET' },
  });
  /** @type {Buffer[]} */
  const out = [];
  child.stdout.on('data', (d) => out.push(d));
  child.on('error', () => socket.destroy());
  child.on('close', () => {
    const all = Buffer.concat(out);
    const payload = all.subarray(all.indexOf('\r\n\r\n') + 4);
    socket.write(head(close, payload.length));
    socket.write(payload);
    if (close) socket.destroy();
  });
}

net
  .createServer({ allowHalfOpen: true }, (socket) => {
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      let end;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const req = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const close = /\r\nconnection:\s*close/i.test(req);
        if (req.startsWith('GET /cgi-bin/hello.py ')) cgi(socket, close);
        else if (socket.write(close ? fixed.true : fixed.false)) {
          if (close) socket.destroy();
        } else if (close) socket.destroySoon();
        if (close) return;
      }
    });
    socket.on('end', () => socket.destroy());
    socket.on('error', () => socket.destroy());
  })
  .listen(Number(port), '127.0.0.1');
