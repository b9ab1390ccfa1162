#!/usr/bin/env node
// Connection bursts: client processes open `--conns` connections between them as fast as they can and send
// nothing. After `--wait` seconds every connection a client believes open must have been accepted by the server
// (its stub_status `accepts` counter); the others must have been refused (closed). A connection the kernel
// completed but the server never accepted is the failure: when the accept queue overflows, the kernel drops the
// handshake's last ACK and retries only on SYN-ACK retransmissions (or never, for a syncookie connection), so an
// idle client can believe forever in a connection nobody holds.
//
// The total is capped below this machine's descriptor limit (the server holds one per connection), so that what is
// measured is the accept queue, not EMFILE. With --nginx, nginx (one worker, the same backlog) runs the same burst.
//
// Usage: node bench/accept-burst.mjs [--conns 18000] [--clients 2] [--wait 15] [--backlog N] [--nginx] [--main PATH]
//        (internal) node bench/accept-burst.mjs --client PORT N WAIT_MS
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Verdict, findMain, freePort, oneGet, parseArgs, runMain, sleep, startServer, tempDir } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);

/**
 * How long a client waits past `--wait` for connections still in SYN-SENT. A SYN the kernel dropped (a full accept
 * queue drops it outright) is sent again after 1, 3, 7, 15 and 31 s (RFC 6298's 1 s initial RTO, doubled), so a
 * client on a loaded machine can still be handshaking when `--wait` ends; reporting then would count as "never
 * connected" what the next retransmission completes. Only a run with unsettled connections waits longer.
 */
const SYN_GRACE_MS = 33_000;

/**
 * Client mode: open `n` connections to `port`; once each has connected or closed (or `waitMs` + SYN_GRACE_MS after
 * the last one was opened, at the latest), report {connected, closed, open}, then hold them until killed, so that
 * the server's count is read while they are still open.
 * @param {number} port
 * @param {number} n
 * @param {number} waitMs
 */
function client(port, n, waitMs) {
  let connected = 0;
  let closed = 0;
  /** @type {net.Socket[]} */
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', () => connected++);
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    socks.push(s);
  }
  const deadline = Date.now() + waitMs + SYN_GRACE_MS;
  /** @type {() => NodeJS.Timeout | undefined} */
  const report = () => {
    if (connected + closed < n && Date.now() < deadline) return setTimeout(report, 100);
    const open = socks.filter((s) => s.readyState === 'open').length;
    process.stdout.write(`${JSON.stringify({ connected, closed, open, settled: connected + closed >= n })}\n`);
  };
  // A quiet period after the last connection settles lets the server catch up on its accept queue.
  setTimeout(report, 1000);
}

/** This machine's hard limit on open descriptors (what a server can hold at most). */
function fdLimit() {
  const m = /^Max open files\s+\d+\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m === null || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
}

/**
 * @typedef {{ connected: number, closed: number, open: number, settled: boolean }} ClientReport One client's line.
 */

/**
 * The kernel's listen-queue counters (TcpExt ListenOverflows, ListenDrops, SyncookiesSent), so that a failed burst
 * says whether the kernel dropped handshakes; empty where /proc/net/netstat cannot be read.
 * @returns {Record<string, number>}
 */
function listenCounters() {
  /** @type {Record<string, number>} */
  const out = {};
  try {
    const lines = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = (lines[i] ?? '').split(/\s+/);
      const values = (lines[i + 1] ?? '').split(/\s+/);
      if (names[0] !== 'TcpExt:') continue;
      for (const k of ['ListenOverflows', 'ListenDrops', 'SyncookiesSent']) {
        const at = names.indexOf(k);
        if (at > 0) out[k] = Number(values[at]);
      }
    }
  } catch {
    // Not Linux, or no procfs: the figures go without the counters.
  }
  return out;
}

/**
 * Runs the burst against `port`; resolves with the clients' reports once all have reported.
 * @param {number} port
 * @param {number} total
 * @param {number} clients
 * @param {number} waitMs
 * @returns {Promise<{ reports: ClientReport[], stop: () => void }>}
 */
function burst(port, total, clients, waitMs) {
  const per = Math.ceil(total / clients);
  /** @type {import('node:child_process').ChildProcess[]} */
  const procs = [];
  /** @type {ClientReport[]} */
  const reports = [];
  return new Promise((resolve) => {
    for (let i = 0; i < clients; i++) {
      const p = spawn(process.execPath, [SELF, '--client', String(port), String(per), String(waitMs)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      procs.push(p);
      let out = '';
      p.stdout.on('data', (d) => {
        out += d.toString();
        if (out.includes('\n')) {
          reports.push(JSON.parse(out.trim()));
          if (reports.length === clients) resolve({ reports, stop: () => procs.forEach((q) => q.kill('SIGKILL')) });
        }
      });
    }
  });
}

/**
 * `accepts` from a stub_status page (NaN when it cannot be read).
 * @param {number} port
 * @param {string} urlPath
 * @returns {Promise<number>}
 */
function accepts(port, urlPath) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () =>
      s.write(`GET ${urlPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    let text = '';
    s.setTimeout(10_000, () => s.destroy());
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      const m = /\n\s*(\d+) \d+ \d+/.exec(text);
      resolve(m === null ? NaN : Number(m[1]));
    });
  });
}

/**
 * One burst against a server and what its status page counted.
 * @param {string} name
 * @param {number} port
 * @param {string} statusPath
 * @param {number} total
 * @param {number} clients
 * @param {number} waitMs
 */
async function measure(name, port, statusPath, total, clients, waitMs) {
  const before = await accepts(port, statusPath); // one connection of our own
  const kernelBefore = listenCounters();
  const run = await burst(port, total, clients, waitMs);
  const kernelAfter = listenCounters();
  /** @type {(k: 'connected' | 'closed' | 'open') => number} */
  const sum = (k) => run.reports.reduce((n, r) => n + r[k], 0);
  // The clients have settled; the server has waitMs to accept what they hold (each status read is one more).
  let reads = 1;
  let acceptedBurst = 0;
  for (const until = Date.now() + waitMs; ;) {
    const now = await accepts(port, statusPath);
    reads++;
    acceptedBurst = now - before - (reads - 1);
    if (acceptedBurst >= sum('open') || Date.now() >= until) break;
    await sleep(200);
  }
  run.stop();
  const figures = {
    name,
    total,
    connected: sum('connected'),
    closed: sum('closed'),
    open: sum('open'),
    accepted: acceptedBurst,
    clients: run.reports,
    // Machine-wide deltas over the burst (other processes' sockets count too).
    kernel: Object.fromEntries(Object.entries(kernelAfter).map(([k, v]) => [k, v - (kernelBefore[k] ?? 0)])),
  };
  process.stdout.write(`${name}: ${JSON.stringify(figures)}\n`);
  return figures;
}

if (process.argv[2] === '--client') {
  client(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else {
  const opts = parseArgs(process.argv.slice(2), {
    conns: '18000',
    clients: '2',
    wait: '15',
    backlog: '',
    nginx: false,
    main: '',
  });
  runMain(async () => {
    const main = findMain(opts.main);
    const verdict = new Verdict('accept-burst');
    const limit = fdLimit();
    const total = Math.min(Number(opts.conns), limit - 1000);
    const waitMs = Number(opts.wait) * 1000;
    const clients = Number(opts.clients);
    const dir = tempDir('burst');
    fs.mkdirSync(path.join(dir, 'www'));
    fs.writeFileSync(path.join(dir, 'www', 'index.html'), 'burst\n');
    const port = await freePort();
    const listen = `listen 127.0.0.1:${port}${opts.backlog !== '' ? ` backlog=${opts.backlog}` : ''}`;
    const server = await startServer({
      main,
      dir,
      config: `server {\n  ${listen}\n  client_header_timeout 120s\n  location / { root ${dir}/www }\n  location /status { status on }\n}\n`,
    });
    process.stdout.write(
      `${total} connections from ${clients} clients (descriptor limit ${limit}), checked after ${opts.wait} s\n`,
    );
    const ours = await measure('ours', port, '/status', total, clients, waitMs);
    await server.stop();
    /** @type {{ ours: Awaited<ReturnType<typeof measure>>, nginx: Awaited<ReturnType<typeof measure>> | null }} */
    const figures = { ours, nginx: null };
    verdict.check(
      ours.connected === total,
      `every connection completed its handshake (${ours.connected} of ${total}; per client ` +
        `${ours.clients.map((c) => c.connected).join(' + ')}; kernel ${JSON.stringify(ours.kernel)})`,
    );
    verdict.check(
      ours.open <= ours.accepted,
      `no client holds a connection the server never accepted (${ours.open} open, ${ours.accepted} accepted, ${ours.closed} refused)`,
    );
    verdict.check(
      ours.open + ours.closed === total,
      `each connection is open or refused (${ours.open} + ${ours.closed} of ${total})`,
    );
    if (opts.nginx) {
      const nport = await freePort();
      const ndir = tempDir('burst-nginx');
      const backlog = opts.backlog !== '' ? ` backlog=${opts.backlog}` : '';
      fs.writeFileSync(
        path.join(ndir, 'nginx.conf'),
        `worker_processes 1;\nworker_rlimit_nofile ${limit};\ndaemon off;\npid ${ndir}/nginx.pid;\nerror_log ${ndir}/error.log;\n` +
          `events { worker_connections ${limit - 100}; }\nhttp { access_log off; client_header_timeout 120s;\n` +
          `  server { listen 127.0.0.1:${nport}${backlog}; root ${dir}/www; location /status { stub_status; } } }\n`,
      );
      const nginx = spawn('/usr/sbin/nginx', ['-c', path.join(ndir, 'nginx.conf')], { stdio: 'ignore' });
      process.on('exit', () => nginx.kill('SIGKILL'));
      for (let i = 0; i < 100 && (await oneGet(nport, '/status')).status !== 200; i++) await sleep(50);
      figures.nginx = await measure('nginx', nport, '/status', total, clients, waitMs);
      nginx.kill('SIGTERM');
    }
    fs.rmSync(dir, { recursive: true, force: true });
    return verdict.finish(figures);
  });
}
