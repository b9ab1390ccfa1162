/**
 * `worker_processes N` (issue 21): a master binds the sockets and N workers accept on them. Two workers both
 * answer (the kernel spreads the connections) and the status page adds up over them; a worker killed under siege
 * is replaced while availability stays >= 99.5 %; SIGHUP under siege fails nothing and brings the new
 * configuration; a master killed with SIGKILL leaves no worker behind for more than 2 s; CGI scripts do not
 * inherit the listening sockets; the access log written by both workers has no torn line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { becomes, until } from '../helpers/wait.js';
import { have, retryHungSiege, siege } from '../helpers/siege.js';

const NO_SIEGE = have('siege') ? false : 'siege is not installed (apt-get install siege)';

const config = (extra = '', root = 'www'): string => `worker_processes 2
server {
  listen 127.0.0.1:{PORT}
  access_log {DIR}/access.log
  ${extra}
  location / {
    root {DIR}/${root}
    default_file index.html
  }
  location /status {
    status on
  }
  location /cgi {
    root {DIR}/cgi
    cgi .sh /bin/sh
  }
}
`;

const FILES = {
  'www/index.html': 'one\n',
  'www2/index.html': 'two\n',
  // Lists this script's open descriptors: a listening socket would show as "socket:[...]".
  'cgi/fds.sh': 'printf "Content-Type: text/plain\\r\\n\\r\\n"\nls -l /proc/$$/fd\n',
};

/** The pids of the master's latest "worker_processes N: master M, workers A B" line. */
function workerPids(srv: RunningServer): { master: number; workers: number[] } {
  const lines = [...srv.output().matchAll(/^worker_processes \d+: master (\d+), workers ([\d ]+)$/gm)];
  const last = lines.at(-1);
  assert.ok(last !== undefined, `no worker_processes line in:\n${srv.output()}`);
  return { master: Number(last[1]), workers: (last[2] ?? '').trim().split(' ').map(Number) };
}

/** Whether `pid` runs (a zombie waiting for its parent to reap it has stopped running). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** `ss -tanp` lines of the sockets the still-running `pids` hold, with each TCP state (for a failure message). */
function socketsOf(pids: readonly number[]): string {
  const alive = pids.filter(running);
  const ss = spawnSync('ss', ['-tanpH'], { encoding: 'utf8' }).stdout;
  const lines = ss.split('\n').filter((l) => alive.some((p) => l.includes(`pid=${p},`)));
  return `pids ${alive.join(' ')}\n${lines.join('\n')}`;
}

/** The "Worker: I of N, pid P" line of a status page. */
function workerOf(body: string): { index: number; pid: number } | null {
  const m = /^Worker: (\d+) of \d+, pid (\d+)$/m.exec(body);
  return m === null ? null : { index: Number(m[1]), pid: Number(m[2]) };
}

/** The pids answering GET /status among `n` concurrent connections. */
async function answering(port: number, n: number): Promise<Set<number>> {
  const bodies = await Promise.all(Array.from({ length: n }, () => get(port, '/status')));
  const pids = new Set<number>();
  for (const r of bodies) {
    assert.equal(r.status, 200);
    const w = workerOf(r.body.toString());
    assert.ok(w !== null, `no Worker line in ${r.body.toString()}`);
    pids.add(w.pid);
  }
  return pids;
}

/** Every line of the access log is one whole combined-format record. */
function assertWholeLines(file: string): number {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the log ends with a newline');
  const record = /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/\S* HTTP\/1\.1" \d{3} \d+ "[^"]*" "[^"]*"$/;
  for (const l of lines) assert.match(l, record);
  return lines.length;
}

describe('worker_processes 2', () => {
  test('both workers answer, and the status page adds up over them', async () => {
    const srv = await startServer({ config: config(), files: FILES });
    try {
      const { master, workers } = workerPids(srv);
      assert.equal(workers.length, 2);
      assert.ok(!workers.includes(master));
      const seen = new Set<number>();
      for (let round = 0; round < 10 && seen.size < 2; round++)
        for (const p of await answering(srv.port, 20)) seen.add(p);
      assert.deepEqual([...seen].sort(), [...workers].sort(), 'both workers, and only they, answer');
      // The master gathers the counters every second: the sums reach every request made so far.
      let total = 0;
      await until(async () => {
        const body = (await get(srv.port, '/status')).body.toString();
        const m = /^All workers \(2\): .*requests (\d+)/m.exec(body);
        total = m === null ? 0 : Number(m[1]);
        return total >= 40;
      }, 'the sums over both workers to count 40 requests');
    } finally {
      await srv.stop();
    }
  });

  test('a CGI script does not inherit the listening socket', async () => {
    const srv = await startServer({ config: config(), files: FILES });
    try {
      const r = await get(srv.port, '/cgi/fds.sh');
      assert.equal(r.status, 200);
      const listing = r.body.toString();
      assert.match(listing, / 1 -> /, 'the listing shows the descriptors');
      // 0-2 are the script's stdio (node's pipes are socket pairs); nothing above may be a socket.
      assert.doesNotMatch(listing, / (?:[3-9]|\d\d+) -> socket:/, listing);
    } finally {
      await srv.stop();
    }
  });

  test('a master killed with SIGKILL leaves no worker running after 2 s', async () => {
    const srv = await startServer({ config: config(), files: FILES });
    const { master, workers } = workerPids(srv);
    assert.equal(srv.proc.pid, master);
    assert.ok(workers.every(running));
    const t0 = Date.now();
    srv.proc.kill('SIGKILL');
    const gone = await becomes(() => !workers.some(running), 3000, 20);
    const ms = Date.now() - t0;
    await srv.stop();
    assert.ok(gone && ms <= 2000, `workers ${workers.join(' ')} still running ${ms} ms after the master's SIGKILL`);
  });

  test('SIGTERM stops the master and every worker, exit 0', async () => {
    const srv = await startServer({ config: config(), files: FILES });
    const { workers } = workerPids(srv);
    assert.equal(await srv.stop(), 0, `exit ${srv.proc.exitCode} ${srv.proc.signalCode}:\n${srv.output()}`);
    assert.ok(await becomes(() => !workers.some(running), 2000), 'the workers exited with the master');
  });

  test(
    'a worker killed with SIGKILL under siege -b is replaced; availability >= 99.5 %, no torn log line',
    { skip: NO_SIEGE, timeout: 90_000 },
    (t) => retryHungSiege(t, killUnderSiege),
  );

  test(
    'SIGHUP under siege -b: no failed transaction, the new configuration answers, the old workers leave',
    { skip: NO_SIEGE, timeout: 90_000 },
    (t) => retryHungSiege(t, reloadUnderSiege),
  );
});

/** A worker SIGKILLed under siege: replaced, availability >= 99.5 %, the shared access log has whole lines. */
async function killUnderSiege(): Promise<void> {
  const srv = await startServer({ config: config(), files: FILES, keepDir: true });
  try {
    const { workers } = workerPids(srv);
    const victim = workers[0] ?? 0;
    const run = siege(srv.dir, [`http://127.0.0.1:${srv.port}/`], { concurrency: 20, seconds: 8 });
    await until(() => fs.existsSync(path.join(srv.dir, 'access.log')), 'requests to arrive', 5000);
    await new Promise((r) => setTimeout(r, 2000));
    process.kill(victim, 'SIGKILL');
    const { report, alerts } = await run.done;
    assert.ok(report.transactions > 1000, `only ${report.transactions} transactions`);
    assert.ok(
      report.availability >= 99.5,
      `availability ${report.availability} %, ${report.failed_transactions} failed: ${alerts.slice(0, 5).join('; ')}`,
    );
    assert.match(srv.output(), new RegExp(`worker 0 \\(pid ${victim}\\) exited on SIGKILL`));
    // The replacement answers in slot 1 with a new pid.
    const replaced = await becomes(async () => {
      const pids = await answering(srv.port, 20);
      return [...pids].some((p) => !workers.includes(p));
    }, 5000);
    assert.ok(replaced, 'a new worker answers');
    assert.ok(!running(victim));
    // Both workers appended to one file: each write(2) holds whole lines (O_APPEND).
    await srv.stop();
    const n = assertWholeLines(path.join(srv.dir, 'access.log'));
    // The killed worker's last second of buffered lines is lost with it; what was written is whole.
    assert.ok(n > report.successful_transactions / 2, `${n} log lines for ${report.successful_transactions} answers`);
  } finally {
    await srv.stop();
    fs.rmSync(srv.dir, { recursive: true, force: true });
  }
}

/** SIGHUP under siege with a connection per transaction: nothing fails, the new configuration serves. */
async function reloadUnderSiege(): Promise<void> {
  const srv = await startServer({ config: config(), files: FILES, keepDir: true });
  try {
    const before = workerPids(srv).workers;
    assert.equal((await get(srv.port, '/')).body.toString(), 'one\n');
    // A connection per transaction: every one is accepted by whichever generation listens at that moment.
    // Keep-alive under reload (old workers keep their connections) is test/load/reload-siege.test.ts.
    const run = siege(srv.dir, [`http://127.0.0.1:${srv.port}/`], {
      concurrency: 20,
      seconds: 8,
      connection: 'close',
    });
    await new Promise((r) => setTimeout(r, 2500));
    const file = path.join(srv.dir, 'test.conf');
    fs.writeFileSync(file, config('', 'www2').replaceAll('{PORT}', String(srv.port)).replaceAll('{DIR}', srv.dir));
    srv.proc.kill('SIGHUP');
    await until(() => /^reloaded$/m.test(srv.output()), 'the master to say "reloaded"', 15_000);
    const after = workerPids(srv).workers;
    assert.equal(after.length, 2);
    assert.ok(!after.some((p) => before.includes(p)), 'a new generation of workers');
    // Once reloaded, every answer comes from the new configuration.
    for (let i = 0; i < 20; i++) assert.equal((await get(srv.port, '/')).body.toString(), 'two\n');
    const { report, alerts } = await run.done;
    assert.ok(report.transactions > 1000, `only ${report.transactions} transactions`);
    assert.equal(report.failed_transactions, 0, `failed transactions: ${alerts.slice(0, 5).join('; ')}`);
    const exited = await becomes(() => !before.some(running), 10_000);
    assert.ok(exited, `the old workers exited; still running, with their sockets:\n${socketsOf(before)}`);
  } finally {
    await srv.stop();
    fs.rmSync(srv.dir, { recursive: true, force: true });
  }
}

test('-t warns that sessions in memory are per worker (not in Redis), and the file is still valid', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-test-'));
  try {
    const file = path.join(dir, 'test.conf');
    fs.mkdirSync(path.join(dir, 'www'));
    const text = config('', 'www').replace('default_file index.html', 'default_file index.html\n    session on');
    fs.writeFileSync(file, text.replaceAll('{PORT}', '8080').replaceAll('{DIR}', dir));
    const r = spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: with worker_processes 2, sessions are per worker/);
    fs.writeFileSync(
      file,
      text.replace('worker_processes 2', 'worker_processes 1').replaceAll('{PORT}', '8080').replaceAll('{DIR}', dir),
    );
    assert.doesNotMatch(spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' }).stderr, /warning/);
    // Sessions in Redis are shared by the workers: no warning.
    const shared = config('session_store redis://127.0.0.1:6379', 'www').replace(
      'default_file index.html',
      'default_file index.html\n    session on',
    );
    fs.writeFileSync(file, shared.replaceAll('{PORT}', '8080').replaceAll('{DIR}', dir));
    const r2 = spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' });
    assert.equal(r2.status, 0, r2.stderr);
    assert.doesNotMatch(r2.stderr, /warning/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('worker_processes 1 (the default)', () => {
  test('one process serves, no master', async () => {
    for (const text of [config().replace('worker_processes 2\n', ''), config().replace('2', '1')]) {
      const srv = await startServer({ config: text, files: FILES });
      try {
        assert.doesNotMatch(srv.output(), /worker_processes/);
        const body = (await get(srv.port, '/status')).body.toString();
        assert.equal(workerOf(body), null, body);
        assert.doesNotMatch(body, /All workers/);
      } finally {
        await srv.stop();
      }
    }
  });
});
