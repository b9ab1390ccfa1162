// Shared pieces of the load scripts (availability, soak, slow clients, descriptor exhaustion): start the server on a
// generated site in a temp dir on a free port, read its RSS / descriptors / children / CPU time from /proc, drive
// siege and a keep-alive client, and print results in one format (human lines, then `RESULT {json}`,
// then `PASS name: ...` or `FAIL name: ...`).
//
// Loads only ever target 127.0.0.1 and stop by themselves; only processes started here are ever signalled.
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {{ status: number, length: number, close: boolean }} ParsedResponse One response's framing.
 * @typedef {{ what: string, serverStalled: boolean }} SiegeHang Why a timed siege run was stopped.
 * @typedef {{
 *   transactions: number,
 *   availability: number,
 *   successful_transactions: number,
 *   failed_transactions: number,
 *   transaction_rate: number,
 *   longest_transaction: number,
 * }} SiegeReport The fields of siege's JSON report the scripts read.
 * @typedef {{ kind: string, path: string }} LoadRequest One request of keepAliveLoad.
 * @typedef {{ counts: Record<string, Record<string, number>>, errors: string[], reconnects: number, ms: number }} LoadResult
 *   What keepAliveLoad counted.
 */

/** The repository root (bench/..). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `--name value` / `--flag` arguments over defaults; numbers stay strings (callers convert).
 * @template {Record<string, string | boolean>} T
 * @param {string[]} argv
 * @param {T} defaults
 * @returns {T}
 */
export function parseArgs(argv, defaults) {
  /** @type {Record<string, string | boolean>} */
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === undefined || !a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (!(key in defaults))
      throw new Error(
        `unknown option ${a}; known: ${Object.keys(defaults)
          .map((k) => '--' + k)
          .join(' ')}`,
      );
    if (typeof defaults[key] === 'boolean') out[key] = true;
    else {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${a} needs a value`);
      out[key] = value;
    }
  }
  return /** @type {T} */ (out);
}

/**
 * The server's entry point: the explicit one, $LOCALHOST_MAIN, dist/main.js, else build/src/main.js.
 * @param {string} [explicit]
 * @returns {string}
 */
export function findMain(explicit) {
  for (const named of [explicit, process.env.LOCALHOST_MAIN]) {
    if (named === undefined || named === '') continue;
    if (!fs.existsSync(named)) throw new Error(`server entry point ${named} not found`);
    return path.resolve(named);
  }
  for (const c of [path.join(REPO, 'dist/main.js'), path.join(REPO, 'build/src/main.js')]) {
    if (fs.existsSync(c)) return c;
  }
  throw new Error('no server build found: run `npm run build` (dist/main.js) or `npx tsc -p tsconfig.test.json`');
}

/** Ports this process has handed out: the kernel may give a just-closed port to the next bind to 0. */
const handedOut = new Set();

/**
 * A port that was free a moment ago (bind to 0, read it, close), never one handed out before: two calls in a row
 * can otherwise get the same port, and two servers meant to be apart would then share it.
 * @returns {Promise<number>}
 */
export async function freePort() {
  for (;;) {
    const port = await boundZero();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** @returns {Promise<number>} */
function boundZero() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error(`listening socket has no TCP address: ${String(addr)}`));
        return;
      }
      s.close(() => resolve(addr.port));
    });
  });
}

/** @type {(ms: number) => Promise<void>} */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` every `stepMs` until it returns a truthy value or `timeoutMs` passes; returns the last value.
 * @template T
 * @param {() => T} fn
 * @param {number} timeoutMs
 * @param {number} [stepMs]
 * @returns {Promise<T>}
 */
export async function waitFor(fn, timeoutMs, stepMs = 50) {
  const until = Date.now() + timeoutMs;
  let v = fn();
  while (!v && Date.now() < until) {
    await sleep(stepMs);
    v = fn();
  }
  return v;
}

/** The Python interpreter for the CGI page. */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** The feature mix every script uses: path → the status it must answer. */
export const MIX = {
  static: { path: '/', status: 200 },
  missing: { path: '/missing.html', status: 404 },
  listing: { path: '/files/', status: 200 },
  cgi: { path: '/cgi-bin/hello.py', status: 200 },
};

/**
 * Writes the test site under `dir`: www/index.html, www/files/ (20 files, listed), cgi-bin/hello.py; returns the
 * config text for `port` with `extra` directives inside the server block.
 * @param {string} dir
 * @param {number} port
 * @param {string} [extra]
 * @returns {string}
 */
export function makeSite(dir, port, extra = '') {
  fs.mkdirSync(path.join(dir, 'www/files'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'cgi-bin'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'www/index.html'),
    '<!DOCTYPE html>\n<html><head><title>load</title></head><body><h1>localhost under load</h1><p>' +
      'x'.repeat(512) +
      '</p></body></html>\n',
  );
  for (let i = 0; i < 20; i++)
    fs.writeFileSync(path.join(dir, `www/files/file-${String(i).padStart(2, '0')}.txt`), `file ${i}\n`);
  fs.writeFileSync(
    path.join(dir, 'cgi-bin/hello.py'),
    '#!/usr/bin/python3\nimport sys\nsys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nHello from CGI\\n")\n',
    { mode: 0o755 },
  );
  return `server {
  host 127.0.0.1
  port ${port}
  access_log off
  error_log stderr
  ${extra}
  location / {
    methods GET
    root ${dir}/www
    default_file index.html
  }
  location /files {
    methods GET
    root ${dir}/www/files
    directory_listing on
  }
  location /cgi-bin {
    methods GET
    root ${dir}/cgi-bin
    cgi .py ${PYTHON}
  }
}
`;
}

/** @type {string[]} */
const tempDirs = [];

/**
 * A fresh temp dir for one run (removed by the script at the end; by runMain when the script fails to run).
 * @param {string} name
 * @returns {string}
 */
export function tempDir(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `localhost-${name}-`));
  tempDirs.push(dir);
  return dir;
}

/**
 * Starts the server on `config` (written to `dir/server.conf`) and waits for its `listening on` line.
 * `nofile`: start it under `ulimit -n nofile` (through bash, which execs node, so the PID is the server's).
 * `nodeFlags`: flags for node itself (e.g. V8's --max-semi-space-size=1 for short leak runs).
 * Returns { pid, proc, output(), alive(), stop() }; the server is killed if this process exits first.
 * @param {{ main: string, dir: string, config: string, nofile?: number, nodeFlags?: string[] }} opts
 */
export async function startServer({ main, dir, config, nofile, nodeFlags = [] }) {
  const conf = path.join(dir, 'server.conf');
  fs.writeFileSync(conf, config);
  const argv = [...nodeFlags, main, conf];
  const proc =
    nofile === undefined
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('bash', ['-c', `ulimit -n ${Number(nofile)} && exec "$0" "$@"`, process.execPath, ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d.toString()));
  proc.stderr.on('data', (d) => (stderr += d.toString()));
  const killAtExit = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.on('exit', killAtExit);
  /** @type {Promise<void>} */
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 10 s:\n${stdout}${stderr}`)), 10_000);
    const onData = () => {
      if (/^listening on /m.test(stdout)) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        proc.off('exit', onExit);
        resolve();
      }
    };
    /** @param {number | null} code */
    const onExit = (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${stdout}${stderr}`));
    };
    proc.stdout.on('data', onData);
    proc.once('exit', onExit);
  });
  await listening;
  const pid = proc.pid;
  if (pid === undefined) throw new Error('the server process has no PID');
  return {
    pid,
    proc,
    output: () => ({ stdout, stderr }),
    alive: () => proc.exitCode === null && proc.signalCode === null,
    /**
     * SIGTERM, then SIGKILL after 10 s; resolves with { code, signal }.
     * @returns {Promise<{ code: number | null, signal: NodeJS.Signals | null }>}
     */
    stop: () =>
      new Promise((resolve) => {
        process.off('exit', killAtExit);
        if (proc.exitCode !== null || proc.signalCode !== null)
          return resolve({ code: proc.exitCode, signal: proc.signalCode });
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        proc.once('exit', (code, signal) => {
          clearTimeout(t);
          resolve({ code, signal });
        });
        proc.kill('SIGTERM');
      }),
  };
}

// ─── /proc ────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Resident set size in KiB (VmRSS), or NaN when the process is gone.
 * @param {number} pid
 * @returns {number}
 */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]);
  } catch {
    return NaN;
  }
}

/**
 * Number of open file descriptors (entries of /proc/PID/fd), or NaN.
 * @param {number} pid
 * @returns {number}
 */
export function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/**
 * Fields of /proc/PID/stat after the command name (index 0 is the state, field 3 of proc(5)).
 * @param {number | string} pid
 * @returns {string[]}
 */
function statFields(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

/**
 * PIDs whose parent is `pid` (a scan of /proc: works without CONFIG_PROC_CHILDREN).
 * @param {number} pid
 * @returns {number[]}
 */
export function childPids(pid) {
  /** @type {number[]} */
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (Number(statFields(e)[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Clock ticks per second for /proc/PID/stat times. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * User + system CPU time of the process (all its threads), in seconds.
 * @param {number} pid
 * @returns {number}
 */
export function cpuSeconds(pid) {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime: fields 14 and 15 of proc(5)
}

/**
 * One snapshot of the server process.
 * @param {number} pid
 */
export function snapshot(pid) {
  return { rssKiB: rssKiB(pid), fds: fdCount(pid), children: childPids(pid).length };
}

/** @type {(kib: number) => string} */
export const mib = (kib) => (kib / 1024).toFixed(1);

/**
 * Why short runs may pass --node-flags=--max-semi-space-size=1: a fresh Node grows V8's young generation (up to
 * 16 MiB semi-spaces) as objects survive scavenges, which CGI runs make happen (a child's objects live for its
 * whole run). On this machine RSS climbs from ~55 to ~100 MiB over the first ~4,000 CGI requests while the live
 * heap after each full GC stays at ~6 MB (--trace-gc), then stays flat. A run of 100k requests samples that
 * growth, not a leak. Pinning the young generation at its starting size removes it; retained objects still
 * grow the old generation, so a leak still shows. V8 also lets the old generation grow before it collects it
 * fully, and how far depends on allocation pace: once the CGI header scanner stopped allocating 32 KiB of
 * external memory per request, full GCs came later and RSS rose ~10 MiB per 10 s CGI mix run with no leak (flat
 * at 68 MiB under --max-old-space-size=24). The availability test therefore also caps the old generation
 * (--max-old-space-size=32): V8 collects fully before passing the cap, a heap leak past it ends the server
 * (which the test sees), and a leak of 8 KiB of Buffers per CGI request still fails the RSS check.
 * Full-bound runs use Node's defaults.
 * @param {string} value
 * @returns {string[]}
 */
export function nodeFlagsOf(value) {
  return value === ''
    ? []
    : value
        .split(',')
        .map((f) => f.trim())
        .filter((f) => f !== '');
}

// ─── siege ────────────────────────────────────────────────────────────────────────────────────────────────────

/** Milliseconds per siege time unit. @type {Record<string, number>} */
const SIEGE_UNIT_MS = { S: 1000, M: 60_000, H: 3_600_000 };

/**
 * siege's `-t` value (`10S`, `2M`, `1H`) in milliseconds, or null when `args` has none.
 * @param {string[]} args
 * @returns {number | null}
 */
export function siegeTimeMs(args) {
  const i = args.indexOf('-t');
  const m = i < 0 ? null : /^(\d+)([SMH])$/i.exec(args[i + 1] ?? '');
  if (m === null) return null;
  return Number(m[1]) * (SIEGE_UNIT_MS[(m[2] ?? '').toUpperCase()] ?? NaN);
}

/**
 * The server side of `port` from /proc/net/tcp{,6}: connections per state, and those whose receive queue holds
 * bytes the server has not read (a stalled server shows here; a hung client does not).
 * @param {number} port
 */
export function serverSockets(port) {
  /** @type {Record<string, string>} */
  const STATES = {
    '01': 'ESTABLISHED',
    '06': 'TIME_WAIT',
    '08': 'CLOSE_WAIT',
    '0A': 'LISTEN',
    '04': 'FIN_WAIT1',
    '05': 'FIN_WAIT2',
    '09': 'LAST_ACK',
  };
  /** @type {Record<string, number>} */
  const states = {};
  let unread = 0;
  let unsent = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // Fields: sl, local_address, rem_address, st, tx_queue:rx_queue, ... (proc(5)); a line with fewer is skipped.
      const [, local, , st, queues] = line.trim().split(/\s+/);
      if (queues === undefined || parseInt(local?.split(':')[1] ?? '', 16) !== port) continue;
      const state = STATES[st ?? ''] ?? st ?? '';
      states[state] = (states[state] ?? 0) + 1;
      const [tx = 0, rx = 0] = queues.split(':').map((h) => parseInt(h, 16));
      if (rx > 0 && state !== 'LISTEN') unread++;
      if (tx > 0) unsent++;
    }
  }
  return { states, unread, unsent };
}

/**
 * What each thread of `pid` is waiting in (/proc/PID/task/TID/wchan), as `name×count`.
 * @param {number | undefined} pid
 * @returns {string}
 */
function threadWaits(pid) {
  /** @type {Record<string, number>} */
  const waits = {};
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      let w = '?';
      try {
        w = fs.readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8') || 'running';
      } catch {
        // thread gone
      }
      waits[w] = (waits[w] ?? 0) + 1;
    }
  } catch {
    return 'gone';
  }
  return Object.entries(waits)
    .map(([w, n]) => `${w}×${n}`)
    .join(' ');
}

/**
 * Runs siege with a private rc and returns its JSON report plus `exitCode`, `alerts` and `hangs`.
 *
 * How siege 4.0.7 counts (src/browser.c, src/response.c; checked against this server): a response < 400 is a
 * "successful" transaction; any other 4xx except 408 is a transaction that is neither successful nor failed, so a
 * 404 does not lower availability; 408 and 5xx, socket errors and timeouts are "failed" and do.
 * availability = transactions / (transactions + failed).
 *
 * siege 4.0.7 sometimes never exits after a timed run (JoeDog/siege#66 and #178; seen here on a fresh CI machine:
 * `-t 10S` still running after 100 s). A timed run is therefore watched: 10 s past its time, the state of siege's
 * threads and of the server's sockets on `port` is recorded, siege gets SIGINT, then SIGKILL 5 s later, and the
 * run is repeated once. A server that stalls is not hidden by this: a hang while a server-side socket holds bytes
 * the server has not read is an error, not a retry, and siege's own 30 s socket timeout counts a stalled request
 * as failed.
 * @param {{ dir: string, args: string[], connection?: string, port?: number }} opts
 * @returns {Promise<SiegeReport & { exitCode: number | null, alerts: string[], hangs: string[] }>}
 */
export async function runSiege({ dir, args, connection = 'keep-alive', port }) {
  /** @type {string[]} */
  const hangs = [];
  for (;;) {
    const r = await siegeOnce({ dir, args, connection, port });
    if (r.hang === null) return { ...r.report, exitCode: r.code, alerts: r.alerts, hangs };
    hangs.push(r.hang.what);
    if (r.hang.serverStalled) throw new Error(`siege hung while the server had unread requests: ${r.hang.what}`);
    if (hangs.length > 1) throw new Error(`siege hung twice: ${hangs.join('; ')}`);
  }
}

/**
 * One siege run (see runSiege): its report, or the hang that stopped it.
 * @param {{ dir: string, args: string[], connection: string, port: number | undefined }} opts
 * @returns {Promise<
 *   | { hang: null, code: number | null, alerts: string[], report: SiegeReport }
 *   | { hang: SiegeHang, code: number | null, alerts: string[], report: null }
 * >}
 */
async function siegeOnce({ dir, args, connection, port }) {
  const home = path.join(dir, 'siege-home');
  fs.mkdirSync(home, { recursive: true });
  const rc = path.join(home, 'siegerc');
  // A private rc: no ~/.siege, no log file, no HTML parser (it would fetch linked assets), JSON report on stdout,
  // and no abort however many failures occur (we want to count them).
  fs.writeFileSync(
    rc,
    [
      'verbose = false',
      'quiet = false',
      'json_output = true',
      'show-logfile = false',
      'logging = false',
      'parser = false',
      'protocol = HTTP/1.1',
      `connection = ${connection}`,
      'accept-encoding = identity',
      // Without it siege reads a chunked body (the CGI page) until the connection closes: a 15 s stall per request.
      'chunked = true',
      'failures = 1000000',
      'timeout = 30',
      '',
    ].join('\n'),
  );
  const proc = spawn('siege', ['-R', rc, '--no-parser', ...args], {
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d.toString()));
  proc.stderr.on('data', (d) => (err += d.toString()));
  const timeMs = siegeTimeMs(args);
  /** @type {SiegeHang | null} */
  let hang = null;
  /** @type {NodeJS.Timeout | undefined} */
  let killer;
  const watchdog =
    timeMs === null
      ? undefined
      : setTimeout(() => {
          const sockets = port === undefined ? null : serverSockets(port);
          const what =
            `siege ${args.join(' ')} still running ${(timeMs + 10_000) / 1000} s after its start; its threads wait in: ${threadWaits(proc.pid)}` +
            (sockets === null
              ? ''
              : `; server port ${port}: ${JSON.stringify(sockets.states)}, ${sockets.unread} with unread bytes, ${sockets.unsent} with unsent bytes`);
          hang = { what, serverStalled: sockets !== null && sockets.unread > 0 };
          proc.kill('SIGINT');
          killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        }, timeMs + 10_000);
  /** @type {number | null} */
  const code = await new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (c) => resolve(c));
  });
  clearTimeout(watchdog);
  clearTimeout(killer);
  // Socket errors and timeouts appear as "[error] ..." / "[alert] ..." lines on stderr.
  const alerts = err.split('\n').filter((l) => /\[(error|alert|fatal)\]/i.test(l));
  // Set by the watchdog while siege ran (a callback the checker does not follow).
  const stopped = /** @type {SiegeHang | null} */ (hang);
  if (stopped !== null) return { hang: stopped, code, alerts, report: null };
  const report = parseSiegeJson(out);
  if (report === null) throw new Error(`siege (exit ${code}) gave no JSON report:\n${out}\n${err}`);
  return { hang: null, code, alerts, report };
}

/**
 * The JSON object siege prints with json_output (keys: transactions, availability, successful_transactions...).
 * @param {string} text
 * @returns {SiegeReport | null}
 */
export function parseSiegeJson(text) {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) return null;
  try {
    return /** @type {SiegeReport} */ (JSON.parse(text.slice(start, end + 1)));
  } catch {
    return null;
  }
}

// ─── A keep-alive HTTP/1.1 client ─────────────────────────────────────────────────────────────────────────────

/**
 * Bytes needed for one complete response at the start of `buf`: { status, length, close } or null when more bytes
 * are needed. Handles Content-Length and chunked framing (the CGI page is chunked).
 * @param {Buffer} buf
 * @returns {ParsedResponse | null}
 */
export function parseResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.toString('latin1', 0, end).toLowerCase();
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:\s*close/.test(head);
  let pos = end + 4;
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (cl !== null) {
    const n = Number(cl[1]);
    return buf.length >= pos + n ? { status, length: pos + n, close } : null;
  }
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) {
    for (;;) {
      const le = buf.indexOf('\r\n', pos);
      if (le < 0) return null;
      const size = parseInt(buf.toString('latin1', pos, le), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size in response: ${buf.toString('latin1', pos, le)}`);
      pos = le + 2;
      if (size === 0) {
        const te = buf.indexOf('\r\n\r\n', pos - 2);
        return te < 0 ? null : { status, length: te + 4, close };
      }
      if (buf.length < pos + size + 2) return null;
      pos += size + 2;
    }
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { status, length: pos, close };
  throw new Error(`response without framing: ${head.split('\r\n')[0]}`);
}

/**
 * Sends `total` GETs over `connections` keep-alive connections; request i goes to `pick(i)` = { path, kind }.
 * Counts statuses per kind; a connection the server closes is reopened (its in-flight request counts as an error).
 * `onProgress(done)` runs after each completed or failed request. Resolves with { counts, errors, reconnects, ms }.
 * @param {{
 *   port: number,
 *   total: number,
 *   connections: number,
 *   pick: (i: number) => LoadRequest,
 *   onProgress?: (done: number) => void,
 *   idleTimeoutMs?: number,
 * }} opts
 * @returns {Promise<LoadResult>}
 */
export function keepAliveLoad({ port, total, connections, pick, onProgress = () => {}, idleTimeoutMs = 30_000 }) {
  return new Promise((resolve) => {
    /** @type {Record<string, Record<string, number>>} */
    const counts = {};
    /** @type {string[]} */
    const errors = [];
    let issued = 0;
    let finished = 0;
    let reconnects = 0;
    let refused = 0;
    let open = 0;
    const started = Date.now();
    /** @type {(kind: string, status: number | string, n?: number) => void} */
    const record = (kind, status, n = 1) => {
      const k = (counts[kind] ??= {});
      k[status] = (k[status] ?? 0) + n;
    };
    const finishOne = () => {
      finished++;
      onProgress(finished);
      if (finished === total && open === 0) resolve({ counts, errors, reconnects, ms: Date.now() - started });
    };
    const connect = () => {
      if (issued >= total) return;
      open++;
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
      let buf = Buffer.alloc(0);
      /** @type {LoadRequest | null} */
      let current = null; // in flight
      let done = false;
      let connected = false;
      const next = () => {
        if (issued >= total) {
          current = null;
          s.end();
          return;
        }
        current = pick(issued++);
        s.write(`GET ${current.path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: localhost-soak\r\n\r\n`);
      };
      s.setTimeout(idleTimeoutMs, () => {
        errors.push(`no answer within ${idleTimeoutMs} ms for ${current?.path}`);
        s.destroy();
      });
      s.on('connect', () => {
        connected = true;
        next();
      });
      s.on('data', (d) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        for (;;) {
          if (current === null) return;
          let r;
          try {
            r = parseResponse(buf);
          } catch (e) {
            errors.push(String(e));
            s.destroy();
            return;
          }
          if (r === null) return;
          buf = buf.subarray(r.length);
          record(current.kind, r.status);
          current = null;
          finishOne();
          if (r.close) {
            s.destroy();
            return;
          }
          next();
        }
      });
      s.on('error', (/** @type {NodeJS.ErrnoException} */ e) => {
        if (errors.length < 20)
          errors.push(`${e.code ?? e.message}${current !== null ? ` during ${current.path}` : ''}`);
      });
      s.on('close', () => {
        if (done) return;
        done = true;
        open--;
        if (current !== null) {
          record(current.kind, 'error');
          current = null;
          finishOne();
        }
        // A server that is gone refuses every connection: give up rather than reconnect in a loop.
        refused = connected ? 0 : refused + 1;
        if (refused > 50 && issued < total) {
          errors.push(`gave up: ${refused} connections in a row failed`);
          const rest = total - issued;
          issued = total;
          record('unsent', 'error', rest);
          finished += rest;
        }
        if (issued < total) {
          reconnects++;
          connect();
        } else if (finished === total && open === 0) resolve({ counts, errors, reconnects, ms: Date.now() - started });
      });
    };
    for (let i = 0; i < Math.min(connections, total); i++) connect();
  });
}

/**
 * One GET on a fresh connection (Connection: close); resolves with { status, ms } or { status: 'error' }.
 * @param {number} port
 * @param {string} urlPath
 * @param {number} [timeoutMs]
 * @returns {Promise<{ status: number | string, ms: number }>}
 */
export function oneGet(port, urlPath, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let buf = Buffer.alloc(0);
    let settled = false;
    /** @param {{ status: number | string, ms: number }} v */
    const settle = (v) => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => settle({ status: 'timeout', ms: timeoutMs }));
    s.on('connect', () => s.write(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      /** @type {ParsedResponse | null} */
      let r = null;
      try {
        r = parseResponse(buf);
      } catch {
        settle({ status: 'garbage', ms: 0 });
      }
      if (r !== null) settle({ status: r.status, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
    s.on('error', (/** @type {NodeJS.ErrnoException} */ e) =>
      settle({ status: e.code ?? 'error', ms: Number(process.hrtime.bigint() - t0) / 1e6 }),
    );
    s.on('close', () => settle({ status: 'closed', ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

/**
 * The p-th percentile (0..100) of an ascending array: the nearest-rank definition.
 * @param {number[]} sorted
 * @param {number} p
 * @returns {number}
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

// ─── Verdicts ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Collects named checks; `finish` prints RESULT/PASS/FAIL and sets the exit code (0 all passed, 1 otherwise). */
export class Verdict {
  /** @param {string} name */
  constructor(name) {
    this.name = name;
    /** @type {{ ok: boolean, what: string }[]} */
    this.checks = [];
  }

  /**
   * Records one check: `ok` with a one-line description of what was measured against what.
   * @template T
   * @param {T} ok
   * @param {string} what
   * @returns {T}
   */
  check(ok, what) {
    this.checks.push({ ok: Boolean(ok), what });
    process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
    return ok;
  }

  get ok() {
    return this.checks.every((c) => c.ok);
  }

  /**
   * Prints `RESULT {json}` (figures + checks) and the verdict line; returns the exit code.
   * @param {unknown} figures
   * @returns {number}
   */
  finish(figures) {
    process.stdout.write(`RESULT ${JSON.stringify({ name: this.name, ok: this.ok, figures, checks: this.checks })}\n`);
    const failed = this.checks.filter((c) => !c.ok).map((c) => c.what);
    process.stdout.write(this.ok ? `PASS ${this.name}\n` : `FAIL ${this.name}: ${failed.join('; ')}\n`);
    return this.ok ? 0 : 1;
  }
}

/**
 * Runs `main` and exits with its code; an exception is a setup error (exit 2), printed. SIGTERM/SIGINT exit too,
 * through the 'exit' handlers that kill the server this script started.
 * @param {() => Promise<number>} main
 */
export function runMain(main) {
  process.once('SIGTERM', () => process.exit(143));
  process.once('SIGINT', () => process.exit(130));
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
      process.exit(2);
    },
  );
}
