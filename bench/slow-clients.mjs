#!/usr/bin/env node
// Slow clients (slowloris): N connections (default 2,000) each send one byte of a request head every 2 s, against
// a server with `client_header_timeout T` (default 5 s). Meanwhile a normal client, in a separate process so the
// slow sockets' work in this one does not pollute its timings, makes 200 sequential GETs (a fresh connection each)
// spread over the first T + 1 s, which includes the moment the server times the slow ones out.
// Checks: the normal GETs all answer 200 with p99 < 50 ms; every slow connection gets a 408 and the server's FIN
// within T + 2 s of connecting (the client keeps dripping after the FIN, as an attacker would); the server's
// descriptors come back to their count before the run (lingering after a 408 is bounded); no crash.
//
// Usage: node bench/slow-clients.mjs [--conns 2000] [--timeout 5] [--interval 2] [--gets 200] [--p99 50]
//          [--main PATH] [--keep]
// The client needs a descriptor per connection: raise `ulimit -n` for more than ~19,000 (bench/stress.sh does).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  Verdict,
  findMain,
  freePort,
  makeSite,
  oneGet,
  parseArgs,
  percentile,
  runMain,
  sleep,
  snapshot,
  startServer,
  tempDir,
  waitFor,
} from './lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  conns: '2000',
  timeout: '5',
  interval: '2',
  gets: '200',
  p99: '50',
  main: '',
  keep: false,
  // Internal: the normal client's mode (a child process).
  probe: false,
  port: '0',
  gap: '0',
});

/** The normal client: `gets` sequential GETs of / spaced `gap` ms apart; prints one JSON line of results. */
async function probe() {
  const port = Number(opts.port);
  const gap = Number(opts.gap);
  const results = [];
  const t0 = Date.now();
  for (let i = 0; i < Number(opts.gets); i++) {
    const due = t0 + i * gap;
    if (Date.now() < due) await sleep(due - Date.now());
    results.push(await oneGet(port, '/', 10_000));
  }
  process.stdout.write(JSON.stringify(results) + '\n');
  return 0;
}

/** The head the slow clients drip: it never ends, so the server only ever sees a partial head. */
const WIRE = Buffer.from(
  'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slowloris\r\nX-Pad: ' + 'a'.repeat(4096),
  'latin1',
);

async function slow() {
  const main = findMain(opts.main);
  const n = Number(opts.conns);
  const timeoutS = Number(opts.timeout);
  const intervalMs = Number(opts.interval) * 1000;
  const gets = Number(opts.gets);
  const p99Max = Number(opts.p99);
  const limitMs = (timeoutS + 2) * 1000;
  const dir = tempDir('slow-clients');
  const port = await freePort();
  const server = await startServer({
    main,
    dir,
    config: makeSite(dir, port, `client_header_timeout ${timeoutS}s\n  keepalive_timeout 30s`),
  });
  const v = new Verdict('slow-clients');
  const warm = await oneGet(port, '/');
  if (warm.status !== 200) throw new Error(`warm-up GET / answered ${warm.status}`);
  const before = snapshot(server.pid);
  process.stdout.write(
    `slow-clients: server ${main} pid ${server.pid} on 127.0.0.1:${port}, client_header_timeout ${timeoutS}s; ` +
      `${n} connections dripping a byte every ${intervalMs / 1000} s; before: ${before.fds} fds\n`,
  );

  /** @typedef {{ s: net.Socket, t0: number, sent: number, nextAt: number, head: string, tEnd: number, tClose: number, err: string }} SlowConn */
  /** @type {SlowConn[]} */
  const slowConns = [];
  /** @type {() => Promise<SlowConn>} */
  const connectOne = () =>
    new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      /** @type {SlowConn} */
      const c = { s, t0: 0, sent: 0, nextAt: 0, head: '', tEnd: 0, tClose: 0, err: '' };
      s.on('connect', () => {
        c.t0 = Date.now();
        s.write(WIRE.subarray(0, 1));
        c.sent = 1;
        c.nextAt = c.t0 + intervalMs;
        resolve(c);
      });
      s.on('data', (d) => {
        if (c.head.length < 64) c.head += d.toString('latin1', 0, Math.min(d.length, 64));
      });
      s.on('end', () => {
        if (c.tEnd === 0) c.tEnd = Date.now();
      });
      s.on('error', (/** @type {NodeJS.ErrnoException} */ e) => {
        if (c.err === '') c.err = e.code ?? e.message;
      });
      s.on('close', () => {
        c.tClose = Date.now();
        if (c.t0 === 0) resolve(c);
      });
      slowConns.push(c);
    });
  // One timer for all: each connection sends its next byte when due; it keeps dripping after the server's FIN.
  const drip = setInterval(() => {
    const now = Date.now();
    for (const c of slowConns) {
      if (c.t0 === 0 || c.tClose !== 0 || c.s.destroyed || now < c.nextAt) continue;
      c.s.write(WIRE.subarray(c.sent, c.sent + 1));
      c.sent++;
      c.nextAt += intervalMs;
    }
  }, 50);

  const tOpen = Date.now();
  for (let i = 0; i < n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - i) }, connectOne));
  }
  const connected = slowConns.filter((c) => c.t0 !== 0).length;
  process.stdout.write(
    `slow-clients: ${connected}/${n} connected in ${Date.now() - tOpen} ms; server has ${snapshot(server.pid).fds} fds\n`,
  );

  // The normal client, in its own process, over the first T + 1 s.
  const gap = ((timeoutS + 1) * 1000) / gets;
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--probe', '--port', String(port), '--gets', String(gets), '--gap', String(gap)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let probeOut = '';
  child.stdout.on('data', (d) => (probeOut += d.toString()));
  const probeDone = new Promise((resolve) => child.once('exit', resolve));

  // Every slow connection should see the server's FIN by t0 + T + 2 s; wait a little beyond that to measure.
  await waitFor(() => slowConns.every((c) => c.tEnd !== 0 || c.tClose !== 0), limitMs + 3000, 100);
  await probeDone;
  // Keep dripping while the server lingers, then see its descriptors come back.
  const tAllEnded = Date.now();
  const settled = await waitFor(() => Math.abs(snapshot(server.pid).fds - before.fds) <= 2, 8000, 100);
  const fdsBackMs = Date.now() - tAllEnded;
  clearInterval(drip);
  for (const c of slowConns) c.s.destroy();

  const closeMs = slowConns.map((c) => {
    const t = c.tEnd !== 0 ? c.tEnd : c.tClose;
    return t === 0 ? Infinity : t - c.t0;
  });
  const sortedClose = [...closeMs].sort((a, b) => a - b);
  const late = closeMs.filter((ms) => ms > limitMs).length;
  const got408 = slowConns.filter((c) => c.head.startsWith('HTTP/1.1 408')).length;
  /** @type {Record<string, number>} */
  const otherHeads = {};
  for (const c of slowConns) {
    if (!c.head.startsWith('HTTP/1.1 408')) {
      const k = c.head === '' ? `no response${c.err ? ' (' + c.err + ')' : ''}` : c.head.slice(0, 12);
      otherHeads[k] = (otherHeads[k] ?? 0) + 1;
    }
  }
  process.stdout.write(
    `slow-clients: closed by the server after (ms from connect): min ${sortedClose[0]}, p50 ${percentile(sortedClose, 50)}, ` +
      `max ${sortedClose[sortedClose.length - 1]}; 408 received by ${got408}/${n}${Object.keys(otherHeads).length ? ', others ' + JSON.stringify(otherHeads) : ''}\n`,
  );

  /** @type {{ status: number | string, ms: number }[]} */
  let results = [];
  try {
    results = JSON.parse(probeOut.trim().split('\n').pop() ?? '[]');
  } catch {
    results = [];
  }
  const ok = results.filter((r) => r.status === 200);
  const lat = ok.map((r) => r.ms).sort((a, b) => a - b);
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  const max = lat[lat.length - 1];
  /** @type {Record<string, number>} */
  const badStatuses = {};
  for (const r of results) if (r.status !== 200) badStatuses[r.status] = (badStatuses[r.status] ?? 0) + 1;
  process.stdout.write(
    `slow-clients: normal client: ${ok.length}/${gets} GETs answered 200; latency p50 ${p50?.toFixed(2)} ms, p99 ${p99?.toFixed(2)} ms, max ${max?.toFixed(2)} ms` +
      `${Object.keys(badStatuses).length ? '; others ' + JSON.stringify(badStatuses) : ''}\n`,
  );

  v.check(connected === n, `${connected}/${n} slow connections opened`);
  v.check(ok.length === gets, `normal client: ${ok.length}/${gets} GETs answered 200`);
  v.check(
    lat.length > 0 && p99 < p99Max,
    `normal client: p99 ${p99?.toFixed(2)} ms < ${p99Max} ms (p50 ${p50?.toFixed(2)} ms)`,
  );
  v.check(
    late === 0,
    `every slow connection closed by the server within ${timeoutS} + 2 s: ${n - late}/${n} (slowest ${sortedClose[sortedClose.length - 1]} ms)`,
  );
  v.check(got408 === n, `408 sent to every slow connection (partial head): ${got408}/${n}`);
  v.check(
    Boolean(settled),
    `server descriptors back to ${before.fds} ±2 within 8 s of the last FIN (${snapshot(server.pid).fds}, after ${fdsBackMs} ms)`,
  );
  v.check(server.alive(), 'the server is still running');
  const { stderr } = server.output();
  v.check(!/uncaught exception|fatal/i.test(stderr), 'no uncaught exception in the server log');
  const stopped = await server.stop();
  v.check(
    stopped.code === 0,
    `the server exits 0 on SIGTERM (exit ${stopped.code}${stopped.signal ? ', ' + stopped.signal : ''})`,
  );
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`slow-clients: kept ${dir}\n`);
  return v.finish({
    conns: n,
    timeoutS,
    closeMs: { min: sortedClose[0], p50: percentile(sortedClose, 50), max: sortedClose[sortedClose.length - 1], late },
    got408,
    others: otherHeads,
    fdsBackMs,
    normal: { gets, ok: ok.length, p50Ms: p50, p99Ms: p99, maxMs: max, others: badStatuses },
  });
}

runMain(opts.probe ? probe : slow);
