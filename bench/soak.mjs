#!/usr/bin/env node
// Soak: N keep-alive GETs (default 1,000,000) rotating over the feature mix (static page, 404, directory listing,
// and a CGI page at a lower share, 1 % by default, since each one is a process), from a keep-alive client in this
// process. The server's RSS is sampled every N/10 requests (every 100k at full bound) and printed as a curve.
// Checks: RSS plateaus (the last sample at most 15 % above the sample at 30 %; a smaller RSS passes), descriptors
// (/proc/PID/fd) after the run within ±2 of before (log and timer descriptors may come and go) and as many child
// processes after as before, every answer the intended one (200, and 404 for the missing page only), no
// connection error, and the server alive and exiting 0 on SIGTERM.
//
// "Before" is taken after one warm-up request of each kind, so descriptors the first CGI run opens for good
// (libuv's SIGCHLD pipe) are not counted as a leak.
//
// Short runs: see nodeFlagsOf in lib.mjs for why the test passes --node-flags --max-semi-space-size=1.
//
// Usage: node bench/soak.mjs [--requests 1000000] [--connections 32] [--cgi-share 0.01] [--plateau-pct 15]
//          [--node-flags FLAG,...] [--main PATH] [--keep]
import * as fs from 'node:fs';
import {
  MIX,
  Verdict,
  findMain,
  freePort,
  keepAliveLoad,
  makeSite,
  mib,
  nodeFlagsOf,
  oneGet,
  parseArgs,
  rssKiB,
  runMain,
  snapshot,
  startServer,
  tempDir,
  waitFor,
} from './lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  requests: '1000000',
  connections: '32',
  'cgi-share': '0.01',
  'plateau-pct': '15',
  main: '',
  'node-flags': '',
  keep: false,
});

runMain(async () => {
  const main = findMain(opts.main);
  const total = Number(opts.requests);
  const conns = Number(opts.connections);
  const share = Number(opts['cgi-share']);
  const plateauPct = Number(opts['plateau-pct']);
  const cgiEvery = share > 0 ? Math.round(1 / share) : 0;
  const step = Math.floor(total / 10);
  if (!(total >= 10 && step > 0)) throw new Error('--requests must be at least 10');
  const dir = tempDir('soak');
  const port = await freePort();
  const server = await startServer({
    main,
    dir,
    config: makeSite(dir, port, 'keepalive_timeout 30s'),
    nodeFlags: nodeFlagsOf(opts['node-flags']),
  });
  const v = new Verdict('soak');

  for (const kind of /** @type {(keyof typeof MIX)[]} */ (Object.keys(MIX))) {
    const r = await oneGet(port, MIX[kind].path);
    if (r.status !== MIX[kind].status)
      throw new Error(`warm-up: ${MIX[kind].path} answered ${r.status}, expected ${MIX[kind].status}`);
  }
  await waitFor(() => snapshot(server.pid).children === 0, 5000);
  const before = snapshot(server.pid);
  process.stdout.write(
    `soak: server ${main} pid ${server.pid} on 127.0.0.1:${port}; ${total} requests over ${conns} keep-alive connections, ` +
      `CGI every ${cgiEvery || 'never'}${opts['node-flags'] ? ', server node flags ' + opts['node-flags'] : ''}; before: RSS ${mib(before.rssKiB)} MiB, ${before.fds} fds, ${before.children} children\n`,
  );

  /** @type {(keyof typeof MIX)[]} */
  const plain = ['static', 'missing', 'listing'];
  /** @type {(i: number) => import('./lib.mjs').LoadRequest} */
  const pick = (i) => {
    const kind = cgiEvery > 0 && i % cgiEvery === cgiEvery - 1 ? 'cgi' : plain[i % plain.length];
    if (kind === undefined) throw new Error(`no request kind for request ${i}`);
    return { kind, path: MIX[kind].path };
  };
  /** @type {{ requests: number, rssKiB: number }[]} */
  const curve = [];
  let last = Date.now();
  /** @type {(done: number) => void} */
  const onProgress = (done) => {
    if (done % step !== 0) return;
    const now = Date.now();
    const rss = rssKiB(server.pid);
    const rate = Math.round((step * 1000) / Math.max(1, now - last));
    last = now;
    curve.push({ requests: done, rssKiB: rss });
    process.stdout.write(`  ${String(done).padStart(8)} requests: RSS ${mib(rss).padStart(6)} MiB  (${rate} req/s)\n`);
  };
  const load = await keepAliveLoad({ port, total, connections: conns, pick, onProgress });
  process.stdout.write(
    `soak: ${total} requests in ${(load.ms / 1000).toFixed(1)} s (${Math.round((total * 1000) / load.ms)} req/s), ${load.reconnects} reconnects\n`,
  );
  for (const [kind, byStatus] of Object.entries(load.counts))
    process.stdout.write(`  ${kind.padEnd(8)} ${JSON.stringify(byStatus)}\n`);
  for (const e of load.errors.slice(0, 10)) process.stdout.write(`  client error: ${e}\n`);

  // The client has closed its connections; the server closes its side and reaps the last CGI child (bounded wait).
  const settled = await waitFor(() => {
    const s = snapshot(server.pid);
    return Math.abs(s.fds - before.fds) <= 2 && s.children === before.children ? s : null;
  }, 10_000);
  const after = settled || snapshot(server.pid);
  process.stdout.write(`soak: after: RSS ${mib(after.rssKiB)} MiB, ${after.fds} fds, ${after.children} children\n`);

  let unexpected = 0;
  /** @type {Record<string, { path: string, status: number } | undefined>} */
  const mixByKind = MIX;
  for (const [kind, byStatus] of Object.entries(load.counts)) {
    for (const [status, n] of Object.entries(byStatus)) if (status !== String(mixByKind[kind]?.status)) unexpected += n;
  }
  const expectCgi = cgiEvery > 0 ? Math.floor(total / cgiEvery) : 0;
  /** @type {(kind: string) => number} */
  const got = (kind) => Object.values(load.counts[kind] ?? {}).reduce((a, b) => a + b, 0);
  v.check(
    unexpected === 0,
    `every answer as intended (200; 404 for ${MIX.missing.path} only): ${unexpected} unexpected`,
  );
  v.check(got('cgi') === expectCgi, `${expectCgi} CGI requests made (${got('cgi')})`);
  v.check(
    load.errors.length === 0,
    `no connection error (${load.errors.length}${load.errors.length > 0 ? ': ' + load.errors[0] : ''})`,
  );
  const at30 = curve[2] ?? { requests: 0.3 * total, rssKiB: NaN };
  const end = (curve.length === 10 ? curve[9] : undefined) ?? { requests: total, rssKiB: NaN };
  const growth = ((end.rssKiB - at30.rssKiB) / at30.rssKiB) * 100;
  v.check(
    end.rssKiB <= at30.rssKiB * (1 + plateauPct / 100),
    `RSS plateau: ${mib(end.rssKiB)} MiB at ${end.requests} vs ${mib(at30.rssKiB)} MiB at ${at30.requests} (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %, limit +${plateauPct} %)`,
  );
  v.check(Math.abs(after.fds - before.fds) <= 2, `descriptors before ${before.fds}, after ${after.fds} (±2)`);
  v.check(after.children === before.children, `child processes before ${before.children}, after ${after.children}`);
  v.check(server.alive(), 'the server is still running');
  const { stderr } = server.output();
  v.check(!/uncaught exception|fatal/i.test(stderr), 'no uncaught exception in the server log');
  const stopped = await server.stop();
  v.check(
    stopped.code === 0,
    `the server exits 0 on SIGTERM (exit ${stopped.code}${stopped.signal ? ', ' + stopped.signal : ''})`,
  );
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`soak: kept ${dir}\n`);
  return v.finish({
    requests: total,
    connections: conns,
    cgiEvery,
    seconds: Number((load.ms / 1000).toFixed(1)),
    counts: load.counts,
    reconnects: load.reconnects,
    before,
    after,
    curve,
    rssGrowthPct: Number(growth.toFixed(2)),
  });
});
