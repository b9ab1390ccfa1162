/**
 * SIGUSR1 under load (DESIGN §9): the server reopens its log files, as logrotate expects of an nginx-style server,
 * loses no access-log line and no request, and never opens Node's inspector (whose default is to listen on
 * 127.0.0.1:9229 on SIGUSR1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RawClient } from '../helpers/http.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

let srv: RunningServer;
let log = '';

before(async () => {
  srv = await startServer({
    config: `server {\n  host 127.0.0.1\n  port {PORT}\n  access_log {DIR}/access.log\n  error_log {DIR}/error.log\n  location / {\n    root {DIR}/www\n  }\n}\n`,
    files: { 'www/a.txt': 'a\n' },
  });
  log = path.join(srv.dir, 'access.log');
});

after(async () => {
  await srv.stop();
});

/** TCP ports the process listens on: its socket inodes matched against the kernel's LISTEN table. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // the descriptor closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("0100007F:1F90"), st is f[3] ("0A" = LISTEN), inode is f[9].
      if (f[3] === '0A' && f[9] !== undefined && inodes.has(f[9])) ports.push(parseInt(f[1]?.split(':')[1] ?? '0', 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

const lines = (file: string): number =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '').length
    : 0;

test('SIGUSR1 under keep-alive load: logs reopen, no line or request lost, no debugger', async () => {
  const pid = srv.proc.pid ?? 0;
  assert.deepEqual(listeningPorts(pid), [srv.port]);
  let done = 0;
  let failed = 0;
  let stop = false;
  const client = async (): Promise<void> => {
    const c = await RawClient.connect(srv.port);
    try {
      while (!stop) {
        c.send('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
        const r = await c.read();
        if (r.status === 200 && r.body.toString() === 'a\n') done++;
        else failed++;
      }
    } finally {
      c.close();
    }
  };
  const clients = [client(), client(), client(), client()];
  const rotated: string[] = [];
  for (let i = 0; i < 5; i++) {
    await until(() => done > (i + 1) * 200, 'requests to flow');
    const to = `${log}.${i}`;
    fs.renameSync(log, to);
    rotated.push(to);
    srv.proc.kill('SIGUSR1');
    // The server opens a fresh access.log; lines written before the signal stay in the rotated file.
    await until(() => fs.existsSync(log), 'the reopened access.log', 5000);
  }
  await until(() => done > 1200, 'requests after the last rotation');
  stop = true;
  await Promise.all(clients);
  assert.equal(failed, 0);
  assert.ok(srv.proc.exitCode === null, 'the server is still running');
  assert.deepEqual(listeningPorts(pid), [srv.port], 'SIGUSR1 opened another listening socket (the inspector?)');
  // Access lines are flushed at least every second: wait for them all, then count.
  await until(
    () => lines(log) + rotated.reduce((n, f) => n + lines(f), 0) >= done,
    `all ${done} access-log lines`,
    5000,
  );
  const total = lines(log) + rotated.reduce((n, f) => n + lines(f), 0);
  assert.equal(total, done, 'access-log lines lost or doubled across the reopens');
  for (const f of rotated) assert.ok(lines(f) > 0, `${f} got no lines`);
  assert.ok(lines(log) > 0, 'the reopened log got no lines');
  assert.doesNotMatch(srv.output(), /Debugger listening/);
});
