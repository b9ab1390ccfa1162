#!/usr/bin/env node
// Slow readers (slowhttptest -X, "slow read"): N connections (default 2,000) each ask for a 1 MiB file with a tiny
// receive window (512-1024 bytes) and read 32 bytes every 5 s, so every response stalls with the kernel's send
// buffer full. Run against our server and against nginx (1 worker, sendfile on) in the same run, one after the
// other, on the same file and with the same send_timeout (longer than the attack, so only queueing is measured).
// Figures per server: RSS before (after a warm-up), peak RSS during the attack, RSS after the readers leave
// (ours sampled for up to --return s, nginx's for 3 s), CPU time during the attack, the kernel's TCP memory
// (/proc/net/sockstat), and a keep-alive GET of the file made halfway through. Checks: our growth (peak - before)
// is at most --ratio times nginx's (nginx's growth floored at --floor MiB, default 0: at a few hundred readers
// nginx, which preallocates its connections, grows by almost nothing); our RSS is back within --back % of its
// level before within --return s of the readers leaving; the normal GET answers 200; no crash.
// With 2,000 readers both servers take the kernel's TCP memory to its tcp_mem limit (2.2 GiB on a 24 GiB machine):
// other sockets on the machine feel it while it lasts.
//
// Usage: node bench/slow-readers.mjs [--conns 2000] [--rate 1000] [--length 20] [--return 60] [--ratio 2]
//          [--floor 0] [--back 20] [--size 1048576] [--main PATH] [--node-flags FLAGS] [--only ours|nginx] [--keep]
// Needs slowhttptest and nginx (installed with apt-get when run as root; exit 3 with a SKIP line when they cannot
// be). Targets 127.0.0.1 only; slowhttptest stops by itself after --length seconds (its -l).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  REPO,
  Verdict,
  cpuSeconds,
  findMain,
  freePort,
  mib,
  oneGet,
  parseArgs,
  parseResponse,
  rssKiB,
  runMain,
  sleep,
  startServer,
  tempDir,
} from './lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  conns: '2000',
  rate: '1000',
  length: '20',
  return: '60',
  ratio: '2',
  floor: '0',
  back: '20',
  size: String(1024 * 1024),
  main: '',
  'node-flags': '',
  only: '',
  keep: false,
});

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) ?? 'nginx';

/** Node flags of `npm start`, so our server runs with the same command line as in production. */
function startFlags() {
  if (opts['node-flags'] !== '') return opts['node-flags'].split(/\s+/).filter((f) => f !== '');
  const start = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts.start;
  const m = /^node\s+(.*?)\s*dist\/main\.js/.exec(start);
  return m === null ? [] : (m[1] ?? '').split(/\s+/).filter((f) => f !== '');
}

/**
 * A keep-alive GET of `urlPath` read to its end: { status, bytes, ms }. Keep-alive, so that the server does not
 * close a socket with the response still in its kernel buffer: under this attack the kernel's TCP memory is near
 * its limit (tcp_mem), and Linux aborts such an orphaned socket with a reset ("TCP: out of memory"), whichever
 * server closed it.
 * @param {number} port
 * @param {string} urlPath
 * @param {number} [timeoutMs]
 * @returns {Promise<GetResult>}
 */
function keepAliveGet(port, urlPath, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ port, host: '127.0.0.1' });
    /** @type {Buffer[]} */
    const parts = [];
    let have = 0;
    let done = false;
    /** @param {number | string} status */
    const finish = (status) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ status, bytes: have, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    };
    s.setTimeout(timeoutMs, () => finish('timeout'));
    s.on('connect', () => s.write(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
    s.on('data', (d) => {
      parts.push(d);
      have += d.length;
      try {
        const r = parseResponse((parts.length === 1 ? parts[0] : undefined) ?? Buffer.concat(parts));
        if (r !== null) finish(r.status);
      } catch {
        finish('garbage');
      }
    });
    s.on('error', (/** @type {NodeJS.ErrnoException} */ e) => finish(e.code ?? 'error'));
    s.on('close', () => finish('closed'));
  });
}

/** Pages of memory the kernel's TCP sockets hold (the "mem" of /proc/net/sockstat), or NaN. */
function tcpMemPages() {
  try {
    const m = /^TCP:.* mem (\d+)/m.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'));
    return m === null ? NaN : Number(m[1]);
  } catch {
    return NaN;
  }
}

/** Installs slowhttptest/nginx when missing and we are root; returns what is still missing. */
function ensureTools() {
  /** @type {(cmd: string) => boolean} */
  const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0 || fs.existsSync(`/usr/sbin/${cmd}`);
  const missing = ['slowhttptest', 'nginx'].filter((c) => !have(c));
  if (missing.length > 0 && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'ignore', env });
  }
  return ['slowhttptest', 'nginx'].filter((c) => !have(c));
}

/**
 * nginx's master and its worker(s): RSS is their sum (the worker holds the connections).
 * @param {number} masterPid
 * @returns {number[]}
 */
function nginxPids(masterPid) {
  const pids = [masterPid];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === masterPid) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * @typedef {{ status: number | string, bytes: number, ms: number }} GetResult What keepAliveGet saw.
 * @typedef {{ port: number, rss: () => number, cpu: () => number }} Target A server under attack.
 * @typedef {{ conns: number, rate: number, length: number, returnS: number, back: number, size: number }} AttackConfig
 */

/**
 * Starts nginx on a free port serving `www`; resolves once it answers.
 * @param {string} dir
 * @param {string} www
 * @param {number} sendTimeoutS
 */
async function startNginx(dir, www, sendTimeoutS) {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  fs.writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
${user}
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
worker_rlimit_nofile 30000;
events { worker_connections 20000; }
http {
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  send_timeout ${sendTimeoutS}s;
  keepalive_timeout 75s;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  server {
    listen 127.0.0.1:${port};
    root ${www};
  }
}
`,
  );
  const proc = spawn(NGINX, ['-c', conf, '-e', `${dir}/nginx-error.log`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d.toString()));
  proc.stderr.on('data', (d) => (out += d.toString()));
  const killAtExit = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.on('exit', killAtExit);
  const until = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${out}`);
    const r = await oneGet(port, '/index.html', 1000);
    if (r.status === 200) break;
    if (Date.now() > until) throw new Error(`nginx did not start: ${out}`);
    await sleep(50);
  }
  const pid = proc.pid;
  if (pid === undefined) throw new Error('nginx has no PID');
  return {
    port,
    pid,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    rss: () => nginxPids(pid).reduce((sum, p) => sum + (rssKiB(p) || 0), 0),
    cpu: () => nginxPids(pid).reduce((sum, p) => sum + cpuSeconds(p), 0),
    /** @returns {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
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
        // By pid: the master stops its worker.
        proc.kill('SIGTERM');
      }),
  };
}

/**
 * One attack on `port`: slowhttptest -X for `length` s, RSS sampled every 250 ms; then RSS sampled until it is back
 * within `back` % of `before` or `returnS` s pass. A normal GET of the file is made in the middle of the attack.
 * @param {string} name
 * @param {Target} target
 * @param {AttackConfig} config
 */
async function attack(name, target, { conns, rate, length, returnS, back, size }) {
  const before = target.rss();
  const cpu0 = target.cpu();
  const args = [
    '-X',
    '-c',
    String(conns),
    '-r',
    String(rate),
    '-w',
    '512',
    '-y',
    '1024',
    '-n',
    '5',
    '-z',
    '32',
    '-k',
    '1',
    '-l',
    String(length),
    '-p',
    '5',
    '-u',
    `http://127.0.0.1:${target.port}/1m.bin`,
  ];
  process.stdout.write(`slow-readers: ${name}: RSS before ${mib(before)} MiB; slowhttptest ${args.join(' ')}\n`);
  const t0 = Date.now();
  // One descriptor per connection: raise the limit for slowhttptest alone (bash execs it, so the PID is its own).
  const sh = spawn(
    'bash',
    ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec slowhttptest "$@"', 'slowhttptest', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let shOut = '';
  sh.stdout.on('data', (d) => (shOut += d.toString()));
  sh.stderr.on('data', (d) => (shOut += d.toString()));
  const killAtExit = () => {
    if (sh.exitCode === null && sh.signalCode === null) sh.kill('SIGKILL');
  };
  process.on('exit', killAtExit);
  const shDone = new Promise((resolve) => sh.once('exit', resolve));
  let peak = before;
  let tcpPeak = 0;
  let running = true;
  void shDone.then(() => (running = false));
  // The GET a normal client makes meanwhile, halfway through.
  /** @type {GetResult | 'pending' | null} */
  let normal = null;
  const normalAt = t0 + (length * 1000) / 2;
  // slowhttptest ends by itself at -l; a margin in case it does not.
  const hardStop = setTimeout(() => sh.kill('SIGTERM'), (length + 30) * 1000);
  while (running) {
    peak = Math.max(peak, target.rss());
    tcpPeak = Math.max(tcpPeak, tcpMemPages() || 0);
    if (normal === null && Date.now() >= normalAt) {
      normal = 'pending';
      void keepAliveGet(target.port, '/1m.bin', 10_000).then((r) => (normal = r));
    }
    await sleep(250);
  }
  clearTimeout(hardStop);
  process.off('exit', killAtExit);
  const attackMs = Date.now() - t0;
  const cpuS = target.cpu() - cpu0;
  const tLeft = Date.now();
  const target20 = before * (1 + back / 100);
  /** @type {number[]} */
  const curve = [];
  let after = target.rss();
  /** @type {number | null} */
  let backMs = null;
  while (Date.now() - tLeft < returnS * 1000) {
    after = target.rss();
    peak = Math.max(peak, after);
    curve.push(Math.round(after));
    if (after <= target20) {
      backMs = Date.now() - tLeft;
      break;
    }
    await sleep(500);
  }
  const growth = peak - before;
  // Set by keepAliveGet's callback during the attack (which the checker does not follow).
  const normalGet = /** @type {GetResult | 'pending' | null} */ (normal);
  const stats = /closed:\s+(\d+)[\s\S]*?pending:\s+(\d+)[\s\S]*?connected:\s+(\d+)/.exec(shOut.slice(-2000));
  process.stdout.write(
    `slow-readers: ${name}: peak ${mib(peak)} MiB (growth ${mib(growth)} MiB) over ${(attackMs / 1000).toFixed(1)} s; ` +
      `after the readers left: ${mib(after)} MiB ${backMs === null ? `(not back within ${back} % in ${returnS} s)` : `after ${(backMs / 1000).toFixed(1)} s`}; ` +
      `normal GET: ${typeof normalGet === 'object' && normalGet !== null ? `${normalGet.status} (${normalGet.bytes} bytes) in ${normalGet.ms?.toFixed(1)} ms` : String(normalGet)}; ` +
      `kernel TCP memory peak ${mib((tcpPeak * 4096) / 1024)} MiB; CPU ${cpuS.toFixed(2)} s during the attack` +
      `${stats ? `; slowhttptest at the end: closed ${stats[1]}, pending ${stats[2]}, connected ${stats[3]}` : ''}\n`,
  );
  return {
    beforeKiB: before,
    peakKiB: peak,
    growthKiB: growth,
    afterKiB: after,
    backMs,
    curveKiB: curve,
    attackMs,
    cpuS,
    tcpMemPeakKiB: tcpPeak * 4,
    normal: typeof normalGet === 'object' ? normalGet : null,
    size,
  };
}

async function main() {
  const missing = ensureTools();
  if (missing.length > 0) {
    // Exit 3: the tools cannot be had here; the test reports it as a skip.
    process.stdout.write(
      `SKIP slow-readers: ${missing.join(', ')} not installed (apt-get install -y ${missing.join(' ')})\n`,
    );
    return 3;
  }
  const main = findMain(opts.main);
  const conns = Number(opts.conns);
  const length = Number(opts.length);
  const cfg = {
    conns,
    rate: Number(opts.rate),
    length,
    returnS: Number(opts.return),
    back: Number(opts.back),
    size: Number(opts.size),
  };
  const sendTimeoutS = length + 60;
  const dir = tempDir('slow-readers');
  fs.chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'index.html'), '<!DOCTYPE html><title>slow readers</title>\n');
  const file = Buffer.alloc(cfg.size);
  for (let i = 0; i + 4 <= file.length; i += 4) file.writeUInt32LE(i, i);
  fs.writeFileSync(path.join(www, '1m.bin'), file);
  const v = new Verdict('slow-readers');
  /**
   * @type {{
   *   conns: number,
   *   length: number,
   *   sendTimeoutS: number,
   *   ours?: Awaited<ReturnType<typeof attack>>,
   *   nginx?: Awaited<ReturnType<typeof attack>>,
   *   ratio?: number | null,
   * }}
   */
  const figures = { conns, length, sendTimeoutS };

  if (opts.only !== 'nginx') {
    const port = await freePort();
    const server = await startServer({
      main,
      dir,
      nodeFlags: startFlags(),
      config: `server {
  host 127.0.0.1
  port ${port}
  access_log off
  error_log stderr
  send_timeout ${sendTimeoutS}s
  keepalive_timeout 75s
  location / {
    methods GET
    root ${www}
    default_file index.html
  }
}
`,
    });
    const ours = { port, pid: server.pid, rss: () => rssKiB(server.pid), cpu: () => cpuSeconds(server.pid) };
    // Warm-up: the code paths of a large download, so their one-time cost is not counted as growth.
    for (let i = 0; i < 20; i++) await oneGet(port, '/1m.bin');
    await sleep(1000);
    process.stdout.write(
      `slow-readers: ours: ${main} pid ${server.pid} on 127.0.0.1:${port} (node ${startFlags().join(' ')})\n`,
    );
    figures.ours = await attack('ours', ours, cfg);
    v.check(server.alive(), 'our server is still running');
    const { stderr } = server.output();
    v.check(!/uncaught exception|fatal/i.test(stderr), 'no uncaught exception in our server log');
    const stopped = await server.stop();
    v.check(
      stopped.code === 0,
      `our server exits 0 on SIGTERM (exit ${stopped.code}${stopped.signal ? ', ' + stopped.signal : ''})`,
    );
  }

  if (opts.only !== 'ours') {
    const ng = await startNginx(dir, www, sendTimeoutS);
    for (let i = 0; i < 20; i++) await oneGet(ng.port, '/1m.bin');
    await sleep(1000);
    process.stdout.write(`slow-readers: nginx: ${NGINX} master pid ${ng.pid} on 127.0.0.1:${ng.port}\n`);
    // Only our return is a goal: nginx's RSS after the attack is sampled for a few seconds, for the record.
    figures.nginx = await attack('nginx', ng, { ...cfg, returnS: Math.min(cfg.returnS, 3) });
    v.check(ng.alive(), 'nginx is still running');
    await ng.stop();
  }

  const o = figures.ours;
  const n = figures.nginx;
  if (o !== undefined) {
    v.check(
      o.normal !== null && o.normal.status === 200,
      `ours: a normal GET of the file during the attack answers 200 (${o.normal?.status ?? 'none'})`,
    );
    v.check(
      o.backMs !== null,
      `ours: RSS back within ${cfg.back} % of ${mib(o.beforeKiB)} MiB within ${cfg.returnS} s of the readers leaving (${mib(o.afterKiB)} MiB${o.backMs !== null ? `, after ${(o.backMs / 1000).toFixed(1)} s` : ''})`,
    );
  }
  if (o !== undefined && n !== undefined) {
    const ratio = Number(opts.ratio);
    const floorKiB = Number(opts.floor) * 1024;
    const bound = ratio * Math.max(n.growthKiB, floorKiB);
    figures.ratio = n.growthKiB > 0 ? o.growthKiB / n.growthKiB : null;
    v.check(
      o.growthKiB <= bound,
      `ours: RSS growth ${mib(o.growthKiB)} MiB <= ${ratio} x nginx's ${mib(n.growthKiB)} MiB` +
        (n.growthKiB < floorKiB ? ` (floored at ${opts.floor} MiB)` : '') +
        ` = ${mib(bound)} MiB`,
    );
  }
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`slow-readers: kept ${dir}\n`);
  return v.finish(figures);
}

runMain(main);
