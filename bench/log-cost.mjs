#!/usr/bin/env node
// What an access log costs: wrk on a 1 KiB file with `access_log off`, then with `access_log FILE`, interleaved and
// repeated; prints the best req/s of each and the cost in percent. Not a test: a figure for README/DESIGN.
//
// Usage: node bench/log-cost.mjs [--duration S] [--repeat N] [--connections C] [--main PATH]
// Needs wrk (and uses taskset when present to keep the server and wrk on different CPUs).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
/**
 * The value after `--name`, else `dflt`.
 * @param {string} name
 * @param {string} dflt
 * @returns {string}
 */
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const value = args[i + 1];
  if (value === undefined) throw new Error(`--${name} needs a value`);
  return value;
};
const DURATION = Number(opt('duration', '5'));
const REPEAT = Number(opt('repeat', '2'));
const CONNECTIONS = Number(opt('connections', '50'));
const MAIN = path.resolve(opt('main', path.join(REPO, 'dist/main.js')));
const HAVE_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const NCPU = os.availableParallelism();

if (spawnSync('wrk', ['--version']).error !== undefined) {
  console.error('log-cost: wrk is not installed (apt-get install -y wrk)');
  process.exit(1);
}
if (!fs.existsSync(MAIN)) {
  console.error(`log-cost: ${MAIN} not found: run \`npm run build\` first, or pass --main`);
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-logcost-'));
fs.mkdirSync(path.join(work, 'www'));
fs.writeFileSync(path.join(work, 'www', '1k.html'), 'x'.repeat(1024));

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error(`listening socket has no TCP address: ${String(addr)}`));
        return;
      }
      const p = addr.port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Starts the server with `accessLog` ('off' or a path); resolves once it prints its listening line.
 * @param {string} accessLog
 */
async function start(accessLog) {
  const port = await freePort();
  const conf = path.join(work, `log-${accessLog === 'off' ? 'off' : 'file'}.conf`);
  fs.writeFileSync(
    conf,
    `server {\n  host 127.0.0.1\n  port ${port}\n  access_log ${accessLog}\n  error_log ${path.join(work, 'error.log')}\n` +
      `  location / {\n    methods GET\n    root ${path.join(work, 'www')}\n  }\n}\n`,
  );
  /** @type {[string, string[]]} */
  const cmd = HAVE_TASKSET ? ['taskset', ['-c', '0', process.execPath, MAIN, conf]] : [process.execPath, [MAIN, conf]];
  const proc = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'inherit'] });
  /** @type {Promise<void>} */
  const listening = new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 10_000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  await listening;
  return { port, proc };
}

/**
 * @param {import('node:child_process').ChildProcess} proc
 * @returns {Promise<void>}
 */
function stop(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

/**
 * One wrk run; resolves req/s.
 * @param {number} port
 * @returns {number}
 */
function wrk(port) {
  const wrkArgs = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, `http://127.0.0.1:${port}/1k.html`];
  /** @type {[string, string[]]} */
  const cmd = HAVE_TASKSET ? ['taskset', ['-c', NCPU > 1 ? '1' : '0', 'wrk', ...wrkArgs]] : ['wrk', wrkArgs];
  const r = spawnSync(cmd[0], cmd[1], { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
  if (m === null) throw new Error(`wrk output not understood:\n${r.stdout}\n${r.stderr}`);
  if (/Non-2xx or 3xx responses/.test(r.stdout)) throw new Error(`wrk saw errors:\n${r.stdout}`);
  return Number(m[1]);
}

const logFile = path.join(work, 'access.log');
/** @type {{ off: number[], file: number[] }} */
const results = { off: [], file: [] };
try {
  for (let i = 0; i < REPEAT; i++) {
    for (const mode of /** @type {const} */ (['off', 'file'])) {
      const { port, proc } = await start(mode === 'off' ? 'off' : logFile);
      try {
        results[mode].push(wrk(port));
      } finally {
        await stop(proc);
      }
    }
  }
  // Best of the runs: other load on the machine only ever lowers a run's figure.
  /** @type {(a: number[]) => number} */
  const best = (a) => Math.max(...a);
  const off = best(results.off);
  const file = best(results.file);
  const lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').length - 1 : 0;
  /** @type {(n: number) => string} */
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log(
    `wrk -t1 -c${CONNECTIONS} -d${DURATION}s, 1 KiB file, ${REPEAT} interleaved run(s) each${HAVE_TASKSET ? ', server on CPU 0, wrk on CPU 1' : ''}`,
  );
  console.log(`access_log off:  ${fmt(off)} req/s best  (runs: ${results.off.map(fmt).join(', ')})`);
  console.log(
    `access_log file: ${fmt(file)} req/s best  (runs: ${results.file.map(fmt).join(', ')}; ${fmt(lines)} lines written)`,
  );
  console.log(`cost of the access log: ${(((off - file) / off) * 100).toFixed(1)} %`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
