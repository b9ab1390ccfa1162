#!/usr/bin/env node
// Descriptor exhaustion: the server runs under `ulimit -n 256` (bash -c 'ulimit -n 256; exec node main.js CONF')
// and 400 connections are opened at once; for 3 s a new connection with a GET arrives every 100 ms; then each held
// connection sends a GET (in turn: the cached index page, a file not served before, the listing, the CGI page).
// Checks: the server logs the condition (EMFILE on stderr), and every kind of request it answered 500 has an
// EMFILE line naming it; it does not crash; it does not spin (its CPU time from /proc/PID/stat over the 3 s at
// the limit stays under 20 % of one core); it serves again once the connections close (a GET answers 200 within
// 2 s of closing them); its descriptors return to their count before the run.
//
// What happens underneath: libuv keeps one spare descriptor; when accept() fails with EMFILE it closes the spare,
// accepts and closes every pending connection, and reopens the spare (uv__emfile_trick), so the listener does not
// spin on a readable socket it cannot accept, and Node's 'error' event does not fire for it. The script reports
// what the held and the new connections received (answers, or a close without one).
//
// Usage: node bench/fd-exhaustion.mjs [--nofile 256] [--conns 400] [--cpu-max 20] [--recover 2] [--main PATH]
//          [--keep]
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  MIX,
  Verdict,
  cpuSeconds,
  fdCount,
  findMain,
  freePort,
  makeSite,
  oneGet,
  parseArgs,
  parseResponse,
  runMain,
  sleep,
  snapshot,
  startServer,
  tempDir,
  waitFor,
} from './lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  nofile: '256',
  conns: '400',
  'cpu-max': '20',
  recover: '2',
  main: '',
  keep: false,
});

/**
 * A client connection that records what became of it: connected, the first status line, closed.
 * @param {number} port
 */
function openConn(port) {
  const c = {
    s: net.connect({ port, host: '127.0.0.1' }),
    connected: false,
    status: 0,
    closed: false,
    err: '',
    buf: Buffer.alloc(0),
  };
  c.s.on('connect', () => (c.connected = true));
  c.s.on('data', (d) => {
    c.buf = Buffer.concat([c.buf, d]);
    if (c.status === 0 && c.buf.length >= 12) c.status = Number(c.buf.toString('latin1', 9, 12));
    try {
      const r = parseResponse(c.buf);
      if (r !== null) c.buf = c.buf.subarray(r.length);
    } catch {
      // not our concern here: only the status line is recorded
    }
  });
  c.s.on('error', (/** @type {NodeJS.ErrnoException} */ e) => (c.err ||= e.code ?? e.message));
  c.s.on('close', () => (c.closed = true));
  return c;
}

/** @typedef {ReturnType<typeof openConn>} Conn */

/**
 * "N answered 500, M closed without an answer, ..." for a set of connections.
 * @param {Conn[]} conns
 * @returns {Record<string, number>}
 */
function tally(conns) {
  /** @type {Record<string, number>} */
  const t = {};
  for (const c of conns) {
    const k =
      c.status !== 0
        ? `answered ${c.status}`
        : c.closed
          ? `closed without an answer${c.err ? ' (' + c.err + ')' : ''}`
          : c.connected
            ? 'open, no answer yet'
            : 'not connected';
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}

runMain(async () => {
  const main = findMain(opts.main);
  const nofile = Number(opts.nofile);
  const n = Number(opts.conns);
  const cpuMax = Number(opts['cpu-max']);
  const recoverMs = Number(opts.recover) * 1000;
  const dir = tempDir('fd-exhaustion');
  const port = await freePort();
  // Long timeouts: the held connections must stay open for the whole run.
  const server = await startServer({
    main,
    dir,
    nofile,
    config: makeSite(dir, port, 'client_header_timeout 60s\n  keepalive_timeout 60s'),
  });
  const v = new Verdict('fd-exhaustion');
  const warm = await oneGet(port, '/');
  if (warm.status !== 200) throw new Error(`warm-up GET / answered ${warm.status}`);
  const limit = /^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${server.pid}/limits`, 'utf8'))?.[1];
  const before = snapshot(server.pid);
  process.stdout.write(
    `fd-exhaustion: server ${main} pid ${server.pid} on 127.0.0.1:${port}, open-files limit ${limit}; before: ${before.fds} fds\n`,
  );
  v.check(Number(limit) === nofile, `the server runs with an open-files limit of ${nofile} (${limit})`);

  // 1. Open them all at once.
  const held = Array.from({ length: n }, () => openConn(port));
  let prev = -1;
  await waitFor(
    () => {
      const f = snapshot(server.pid).fds;
      const stable = f === prev && held.every((c) => c.connected || c.closed);
      prev = f;
      return stable;
    },
    5000,
    250,
  );
  const atPeak = snapshot(server.pid);
  process.stdout.write(
    `fd-exhaustion: ${n} connections opened: server has ${atPeak.fds} fds; clients: ${JSON.stringify(tally(held))}\n`,
  );

  // 2. Three seconds at the limit with a new connection (and its GET) every 100 ms: the server must not spin.
  /** @type {Conn[]} */
  const late = [];
  const cpu0 = cpuSeconds(server.pid);
  const w0 = Date.now();
  let minFds = Infinity;
  for (let i = 0; i < 30; i++) {
    const c = openConn(port);
    c.s.on('connect', () => c.s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    late.push(c);
    await sleep(100);
    minFds = Math.min(minFds, fdCount(server.pid));
  }
  const windowS = (Date.now() - w0) / 1000;
  const cpuPct = ((cpuSeconds(server.pid) - cpu0) / windowS) * 100;
  await waitFor(() => late.every((c) => c.status !== 0 || c.closed), 1000, 50);
  process.stdout.write(
    `fd-exhaustion: server CPU over ${windowS.toFixed(1)} s at the limit (fds >= ${minFds} throughout): ${cpuPct.toFixed(1)} % of one core; ` +
      `new connections meanwhile: ${JSON.stringify(tally(late))}\n`,
  );
  v.check(
    cpuPct < cpuMax,
    `no spinning: ${cpuPct.toFixed(1)} % of one core over ${windowS.toFixed(1)} s < ${cpuMax} %`,
  );

  // 3. Every held connection asks for something, in turn: the (cached) index page, a file never served before (an
  // open()), the listing (an opendir()), the CGI page (pipes and a process).
  const asks = [MIX.static.path, '/files/file-07.txt', MIX.listing.path, MIX.cgi.path];
  /** @type {Map<string, Conn[]>} */
  const byPath = new Map(asks.map((p) => [p, []]));
  let k = 0;
  for (const c of held) {
    if (c.closed) continue;
    const p = asks[k++ % asks.length];
    const list = p === undefined ? undefined : byPath.get(p);
    if (p === undefined || list === undefined) throw new Error(`no request path at index ${k - 1}`);
    list.push(c);
    c.s.write(`GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  }
  await waitFor(() => held.every((c) => c.status !== 0 || c.closed), 3000, 50);
  /** @type {Record<string, Record<string, number>>} */
  const answers = {};
  for (const [p, cs] of byPath) answers[p] = tally(cs);
  process.stdout.write(`fd-exhaustion: after a GET on each held connection: ${JSON.stringify(answers)}\n`);

  const { stderr } = server.output();
  const emfileLines = stderr.split('\n').filter((l) => /EMFILE|ENFILE|too many open files/i.test(l));
  process.stdout.write(`fd-exhaustion: server stderr lines naming EMFILE: ${emfileLines.length}\n`);
  for (const l of emfileLines.slice(0, 3)) process.stdout.write(`  ${l}\n`);
  v.check(emfileLines.length > 0, `the server logs the condition (EMFILE on stderr: ${emfileLines.length} lines)`);
  // A 500 is the server's own failure: each kind of request that got one must have left a line saying why
  // (NGINX logs "open() ... failed (24: Too many open files)"). The line names the file or script.
  // The last path segment names it ("file-07.txt", "files", "hello.py"; "index.html" for /); a line about the
  // file is not one about its directory's listing.
  /** @type {(p: string, l: string) => boolean} */
  const names = (p, l) =>
    l.includes(
      p
        .split('/')
        .filter((x) => x !== '')
        .pop() ?? 'index.html',
    ) &&
    (p !== MIX.listing.path || !l.includes('file-07.txt'));
  const unexplained = asks.filter(
    (p) => (byPath.get(p) ?? []).some((c) => c.status === 500) && !emfileLines.some((l) => names(p, l)),
  );
  v.check(
    unexplained.length === 0,
    `every request kind answered 500 has an EMFILE line naming it in the log${unexplained.length ? ': none for ' + unexplained.join(', ') : ''}`,
  );
  v.check(server.alive(), 'the server did not crash');

  // 4. Close everything; the server must serve again at once.
  for (const c of [...held, ...late]) c.s.destroy();
  const tClose = Date.now();
  /** @type {{ status: number | string, ms: number }} */
  let answer = { status: 0, ms: 0 };
  while (Date.now() - tClose < recoverMs) {
    answer = await oneGet(port, '/', Math.max(100, recoverMs - (Date.now() - tClose)));
    if (answer.status === 200) break;
    await sleep(50);
  }
  const recoveredMs = Date.now() - tClose;
  v.check(
    answer.status === 200 && recoveredMs <= recoverMs,
    `after closing them, GET / answered ${answer.status} ${recoveredMs} ms later (within ${recoverMs} ms)`,
  );
  const settled = await waitFor(() => Math.abs(snapshot(server.pid).fds - before.fds) <= 2, 5000, 100);
  const after = snapshot(server.pid);
  v.check(Boolean(settled), `server descriptors back to ${before.fds} ±2 (${after.fds})`);
  v.check(!/uncaught exception|fatal/i.test(server.output().stderr), 'no uncaught exception in the server log');
  const stopped = await server.stop();
  v.check(
    stopped.code === 0,
    `the server exits 0 on SIGTERM (exit ${stopped.code}${stopped.signal ? ', ' + stopped.signal : ''})`,
  );
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`fd-exhaustion: kept ${dir}\n`);
  return v.finish({
    nofile,
    conns: n,
    fdsBefore: before.fds,
    fdsAtPeak: atPeak.fds,
    held: tally(held),
    answers,
    late: tally(late),
    cpuPct: Number(cpuPct.toFixed(2)),
    minFdsDuringWindow: minFds,
    unexplained500: unexplained,
    emfileCount: emfileLines.length,
    emfileLines: emfileLines.slice(0, 3),
    recoveredMs,
    fdsAfter: after.fds,
  });
});
