#!/usr/bin/env node
// Measurements of the native transport against node:net (issue 15). Bounded runs on 127.0.0.1 only; every
// process it starts is stopped by its own pid.
//
//   node scripts/bench-native.mjs http  [--seconds 10] [--connections 50] [--runs 3]
//        wrk against the harness (build/test/native/harness.js) over the native transport and over node:net, and
//        against bench/node-floor.mjs (bare node:net), keep-alive and Connection: close, 1 KiB responses. The
//        server is pinned to CPU 0 and wrk to CPU 1 (taskset). Reports requests/s and the server's CPU per
//        request from /proc/PID/stat (utime + stime).
//   node scripts/bench-native.mjs spawn [--runs 1000] [--parallel 1]
//        parent CPU (process.cpuUsage: this process only, not its children) per child for NativeLauncher
//        (posix_spawn + pidfd) and child_process.spawn, each running /bin/true to its close.
//   node scripts/bench-native.mjs idle  [--connections 10000]
//        RSS growth of the harness (native, then net) per idle connection: RSS after the connections are
//        accepted minus RSS before, divided by their number.
//   node scripts/bench-native.mjs read  [--reads 200000]
//        ns per read(2) of /dev/zero for the read strategies: the addon's copy-out of exactly n bytes (read),
//        allocating a 64 KiB Buffer per read (readInto + subarray), a JS pool copied out with Buffer.from, and the
//        hybrid the transport uses; for 200 B, 4 KiB and 64 KiB reads. Run with --expose-gc.
//
// Needs a build of the tests (npx tsc -p tsconfig.test.json) and, for http, wrk and taskset.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HARNESS = path.join(ROOT, 'build', 'test', 'native', 'harness.js');
const FLOOR = path.join(ROOT, 'bench', 'node-floor.mjs');
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function args(defaults) {
  const out = { ...defaults };
  const a = process.argv.slice(3);
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '');
    if (!(k in defaults)) throw new Error(`unknown option ${a[i]}`);
    out[k] = Number(a[i + 1]);
  }
  return out;
}

/** utime + stime of a process, in ms. */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** Ticks all CPUs spent stolen by the hypervisor, and in total (from /proc/stat): a shared machine's noise. */
function stealTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Starts a server and waits for its port: the harness prints `listening PORT PID`; node-floor prints nothing. */
async function startServer(kind, port) {
  const cmd =
    kind === 'floor'
      ? ['taskset', '-c', '0', process.execPath, FLOOR, String(port), '/bin/true', '/dev/null']
      : ['taskset', '-c', '0', process.execPath, HARNESS, '--transport', kind, '--port', String(port)];
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await canConnect(port)) break;
    if (Date.now() > deadline) throw new Error(`${kind} server did not listen`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function wrk(port, seconds, connections, close) {
  const a = ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  if (close) a.push('-H', 'Connection: close');
  a.push(`http://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    const p = spawn('taskset', a, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      const req = /(\d+) requests in/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const errs = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
      const p50 = /50%\s+([\d.]+\w+)/.exec(out);
      const p99 = /99%\s+([\d.]+\w+)/.exec(out);
      resolve({
        requests: Number(req?.[1]),
        rps: Number(rps?.[1]),
        p50: p50?.[1],
        p99: p99?.[1],
        errors: errs ? errs[0] : '',
      });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function http() {
  const o = args({ seconds: 10, connections: 50, runs: 3 });
  const rows = [];
  for (const close of [false, true]) {
    for (const kind of ['native', 'net', 'floor']) {
      const rps = [];
      const cpu = [];
      const lat = [];
      const steal = [];
      for (let r = 0; r < o.runs; r++) {
        const port = await freePort();
        const server = await startServer(kind, port);
        try {
          await wrk(port, 1, o.connections, close); // warm-up (JIT), not counted
          const c0 = cpuMs(server.pid);
          const s0 = stealTicks();
          const res = await wrk(port, o.seconds, o.connections, close);
          const c1 = cpuMs(server.pid);
          const s1 = stealTicks();
          steal.push(Number(((100 * (s1.steal - s0.steal)) / Math.max(1, s1.total - s0.total)).toFixed(1)));
          rps.push(res.rps);
          cpu.push(((c1 - c0) * 1000) / res.requests); // µs of server CPU per request
          lat.push(`${res.p50}/${res.p99}`);
          if (res.errors) console.error(`  ${kind} ${close ? 'close' : 'keep-alive'}: ${res.errors}`);
        } finally {
          await stop(server);
        }
      }
      const row = {
        mode: close ? 'Connection: close' : 'keep-alive',
        server: kind,
        rps: Math.round(median(rps)),
        cpuUsPerReq: Number(median(cpu).toFixed(1)),
        cpuUsPerReqRuns: cpu.map((c) => Number(c.toFixed(1))),
        runs: rps.map(Math.round),
        stealPct: steal,
        latencyP50P99: lat,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  return rows;
}

async function spawnBench() {
  const o = args({ runs: 1000, parallel: 1 });
  const { loadAddon } = await import(path.join(ROOT, 'build', 'src', 'server', 'native', 'addon.js'));
  const { NativeLoop } = await import(path.join(ROOT, 'build', 'src', 'server', 'native', 'loop.js'));
  const { NativeLauncher } = await import(path.join(ROOT, 'build', 'src', 'server', 'native', 'launcher.js'));
  const { spawn: cpSpawn } = await import('node:child_process');
  const a = loadAddon();
  if (!a.ok) throw new Error(a.error);
  const loop = NativeLoop.get(a.value);
  if (!loop.ok) throw new Error(loop.error);
  const launcher = new NativeLauncher(loop.value);
  const env = { PATH: '/usr/bin:/bin' };
  const nativeOne = () =>
    new Promise((resolve, reject) => {
      const r = launcher.launch(
        { file: '/bin/true', args: [], cwd: '/', env, stdin: 'null' },
        {
          onStdout() {},
          onStdoutEnd() {},
          onStderr() {},
          onStderrEnd() {},
          onStdinDrain() {},
          onSpawnError: reject,
          onExit() {},
          onClose: resolve,
        },
      );
      if (!r.ok) reject(new Error(r.error));
    });
  const nodeOne = () =>
    new Promise((resolve, reject) => {
      const c = cpSpawn('/bin/true', [], { cwd: '/', env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      c.once('error', reject);
      c.once('close', resolve);
    });
  const results = [];
  for (const [name, one] of [
    ['posix_spawn (NativeLauncher)', nativeOne],
    ['child_process.spawn', nodeOne],
    ['posix_spawn (NativeLauncher)', nativeOne],
    ['child_process.spawn', nodeOne],
  ]) {
    for (let i = 0; i < 50; i++) await one(); // warm-up
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let left = o.runs;
    await Promise.all(
      Array.from({ length: o.parallel }, async () => {
        while (left > 0) {
          left--;
          await one();
        }
      }),
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const c = process.cpuUsage(c0);
    const row = {
      launcher: name,
      runs: o.runs,
      parallel: o.parallel,
      parentCpuUsPerSpawn: Number(((c.user + c.system) / o.runs).toFixed(1)),
      userUs: Number((c.user / o.runs).toFixed(1)),
      systemUs: Number((c.system / o.runs).toFixed(1)),
      wallMsTotal: Math.round(wall),
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
  return results;
}

async function idle() {
  const o = args({ connections: 10000 });
  const rows = [];
  for (const kind of ['native', 'net']) {
    const port = await freePort();
    const child = spawn(process.execPath, ['--expose-gc', HARNESS, '--transport', kind, '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    while (!(await canConnect(port))) await new Promise((r) => setTimeout(r, 50));
    // The clients live in a child process of their own, so their memory is not the server's.
    const clients = spawn(process.execPath, ['-e', CLIENTS, String(port), String(o.connections)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    clients.stdout.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 1500));
    const before = rssKiB(child.pid);
    const t0 = Date.now();
    while (!out.includes('connected') && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000)); // let the server accept and settle
    const after = rssKiB(child.pid);
    const fds = fs.readdirSync(`/proc/${child.pid}/fd`).length;
    const row = {
      server: kind,
      connections: o.connections,
      serverFds: fds,
      rssBeforeKiB: before,
      rssAfterKiB: after,
      bytesPerConnection: Math.round(((after - before) * 1024) / o.connections),
      clientReport: out.trim(),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    clients.kill('SIGTERM');
    await new Promise((r) => clients.once('exit', r));
    await stop(child);
  }
  return rows;
}

// Opens N idle keep-alive connections (no request sent), waits until all are connected, then holds them.
const CLIENTS = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
let ok = 0, failed = 0; const socks = [];
setTimeout(() => {
  let i = 0;
  const next = () => {
    for (let k = 0; k < 200 && i < n; k++, i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { if (++ok + failed === n) console.log('connected', ok, 'failed', failed); });
      s.on('error', () => { if (ok + ++failed === n) console.log('connected', ok, 'failed', failed); });
      socks.push(s);
    }
    if (i < n) setTimeout(next, 10);
  };
  next();
}, 2000);
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
`;

async function readBench() {
  const o = args({ reads: 200000 });
  const { loadAddon } = await import(path.join(ROOT, 'build', 'src', 'server', 'native', 'addon.js'));
  const a = loadAddon();
  if (!a.ok) throw new Error(a.error);
  const addon = a.value;
  const fd = fs.openSync('/dev/zero', 'r');
  const rows = [];
  for (const size of [200, 4096, 65536]) {
    const strategies = {
      'copy-out (addon.read)': () => {
        const b = addon.read(fd, size);
        return typeof b === 'number' ? null : b;
      },
      'allocate 64 KiB per read (readInto + subarray)': () => {
        const b = Buffer.allocUnsafeSlow(65536);
        const n = addon.readInto(fd, b, 0, size);
        return b.subarray(0, n);
      },
      'hybrid: pool, copy below 32 KiB, hand the pool over above': (() => {
        let pool = Buffer.allocUnsafeSlow(65536);
        return () => {
          const n = addon.readInto(fd, pool, 0, size);
          if (n >= 32768) {
            const b = pool.subarray(0, n);
            pool = Buffer.allocUnsafeSlow(65536);
            return b;
          }
          return Buffer.from(pool.subarray(0, n));
        };
      })(),
      'pool + Buffer.from copy in JS': (() => {
        const pool = Buffer.allocUnsafeSlow(65536);
        return () => {
          const n = addon.readInto(fd, pool, 0, size);
          return Buffer.from(pool.subarray(0, n));
        };
      })(),
    };
    for (const [name, fn] of Object.entries(strategies)) {
      for (let i = 0; i < 2000; i++) fn();
      const keep = [];
      globalThis.gc?.();
      const rss0 = process.memoryUsage().rss;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < o.reads; i++) {
        const b = fn();
        if (i % 1000 === 0) keep.push(b); // a few chunks held, as a parser holding a partial head would
      }
      const ns = Number(process.hrtime.bigint() - t0) / o.reads;
      const row = {
        readSize: size,
        strategy: name,
        nsPerRead: Math.round(ns),
        heldChunks: keep.length,
        heldBytes: keep.reduce((s, b) => s + (b?.buffer.byteLength ?? 0), 0),
        rssGrowthKiB: Math.round((process.memoryUsage().rss - rss0) / 1024),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  fs.closeSync(fd);
  return rows;
}

const what = process.argv[2];
const table = { http, spawn: spawnBench, idle, read: readBench };
const fn = table[what];
if (fn === undefined) {
  console.error('usage: node scripts/bench-native.mjs http|spawn|idle|read [options]');
  process.exit(2);
}
console.log(`# ${what} on ${os.cpus().length} CPUs, Node ${process.version}, ${new Date().toISOString()}`);
fn().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
