/**
 * memcheck over the addon: the harness under a short load (keep-alive and Connection: close requests, pipelining,
 * a 5 MiB sendfile download, a 5 MiB upload, a peer reset, /spawn), then the argument-validation test file (every
 * bad-input path of the C code). Each must end with 0 errors and no definite or possible leak; the suppressions
 * (test/native/valgrind-node.supp) are Node's own blocks only, each also seen with `node -e 0`: one on Node 20, three
 * on Node 26. "Possibly lost" records with no frame in the addon are V8's own and are counted apart (see judge()).
 *
 * valgrind 3.19 (Debian 12) does not know pidfd_open (syscall 434) and returns ENOSYS for it: /spawn then takes
 * the addon's failure path (SIGKILL and reap the child, close every pipe), which is checked here instead of the
 * success path; the success path is covered, without valgrind, by native-launcher.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { freePort, MAIN } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { connect, ensureTool, exchange, native, readAll, splitResponses, startListening } from './support.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HARNESS = path.join(HERE, 'harness.js');
const SUPP = path.resolve(HERE, '..', '..', '..', 'test', 'native', 'valgrind-node.supp');
const ADDON_TESTS = path.resolve(HERE, '..', 'unit', 'native-addon.test.js');
const n = native();
const skip = typeof n === 'string' ? n : false;

const VALGRIND = [
  '--tool=memcheck',
  '--leak-check=full',
  '--show-leak-kinds=definite,possible',
  '--errors-for-leak-kinds=definite,possible',
  '--num-callers=30',
];

/** The numbers of memcheck's summary; `errors` counts contexts (one per record), not their occurrences. */
function summary(log: string): { errors: number; definite: number; possible: number; indirect: number } {
  const num = (re: RegExp): number => {
    const m = re.exec(log);
    if (m === null || m[1] === undefined) throw new Error(`no ${re.source} in the valgrind log:\n${log.slice(-3000)}`);
    return Number(m[1].replace(/,/g, ''));
  };
  return {
    errors: num(/ERROR SUMMARY: [\d,]+ errors from ([\d,]+) contexts/),
    definite: num(/definitely lost: ([\d,]+) bytes/),
    indirect: num(/indirectly lost: ([\d,]+) bytes/),
    possible: num(/possibly lost: ([\d,]+) bytes/),
  };
}

/** memcheck's records: the log's blank-line separated blocks, without the `==pid== ` prefix. */
function records(log: string): string[] {
  const lines = log.split('\n').map((l) => l.replace(/^==\d+== ?/, ''));
  return lines.join('\n').split(/\n\s*\n/);
}

/** memcheck's reports of a use of uninitialised memory (where it is used, not where it came from). */
const UNINITIALISED = /^(Conditional jump or move depends on uninitialised value|Use of uninitialised value)/m;

/**
 * The summary with the records that lie wholly inside Node and V8 taken out:
 * - "possibly lost" blocks: V8 keeps much of its heap bookkeeping through interior pointers, and which of those
 *   blocks exist at exit depends on when the last scavenge ran (Node 26 in CI: Heap::ResizeNewSpace, 680 bytes), so
 *   they cannot all be listed as suppressions;
 * - uninitialised-value uses inside V8's own code (V8, cppgc or heap::base frames, none of the addon's): the
 *   garbage collector's conservative stack scan is suppressed by name (valgrind-node.supp); this catches the same
 *   from frames that name differently on another Node (in CI, once, 2311 times from one context under
 *   Runtime_CompileLazy, on a run whose twin had none).
 * A record with a frame in the addon always counts, as does every definite leak and every other error.
 */
function judge(log: string): {
  errors: number;
  definite: number;
  possible: number;
  indirect: number;
  nodeOnly: number;
} {
  const s = summary(log);
  let nodeOnly = 0;
  let nodeBytes = 0;
  for (const r of records(log)) {
    if (/localhost_native/.test(r)) continue;
    const text = r.trimStart();
    if (UNINITIALISED.test(text) && /(v8::internal|heap::base|cppgc)::/.test(text)) {
      nodeOnly++;
      continue;
    }
    const m = /^([\d,]+) bytes in [\d,]+ blocks are possibly lost/.exec(text);
    if (m === null || m[1] === undefined) continue;
    nodeOnly++;
    nodeBytes += Number(m[1].replace(/,/g, ''));
  }
  return { ...s, errors: s.errors - nodeOnly, possible: s.possible - nodeBytes, nodeOnly };
}

/** The records a failure is about (each with a stack: "at 0x…"), first the addon's, for the assertion message. */
function shown(log: string): string {
  const all = records(log).filter((r) => /\bat 0x[0-9A-F]+:/.test(r));
  const ours = all.filter((r) => /localhost_native/.test(r));
  return [...ours, ...all.filter((r) => !ours.includes(r))]
    .map((r) => r.trim().slice(0, 1500))
    .join('\n\n')
    .slice(0, 8000);
}

/** What the assertions compare: the judged numbers, without the count of Node-only records. */
function verdict(j: ReturnType<typeof judge>): {
  errors: number;
  definite: number;
  possible: number;
  indirect: number;
} {
  return { errors: j.errors, definite: j.definite, possible: j.possible, indirect: j.indirect };
}

describe('valgrind memcheck over the addon', { skip, timeout: 900_000 }, () => {
  it('the harness under a short load: 0 errors, no leaks', async (t) => {
    for (const tool of ['valgrind', 'curl']) {
      const why = ensureTool(tool);
      if (why !== null) {
        t.skip(why);
        return;
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-valgrind-'));
    const log = path.join(dir, 'memcheck.log');
    const file = path.join(dir, 'file.bin');
    const data = randomBytes(5 * 1024 * 1024);
    fs.writeFileSync(file, data);
    const h = await startListening('valgrind', [
      ...VALGRIND,
      `--suppressions=${SUPP}`,
      `--log-file=${log}`,
      process.execPath,
      HARNESS,
      '--file',
      file,
    ]);
    const exited = new Promise<number | null>((resolve) =>
      h.child.exitCode !== null ? resolve(h.child.exitCode) : h.child.once('exit', (c) => resolve(c)),
    );
    try {
      // Keep-alive and pipelined.
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect(h.port)));
      await Promise.all(
        clients.map(async (s) => {
          for (let i = 0; i < 10; i++)
            assert.equal((await exchange(s, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', 1))[0]?.length, 1024);
          const piped = await exchange(s, 'GET /big?n=100 HTTP/1.1\r\nHost: t\r\n\r\n'.repeat(10), 10);
          assert.equal(piped.length, 10);
          s.end();
        }),
      );
      // Connection: close.
      for (let i = 0; i < 10; i++) {
        const s = await connect(h.port);
        const all = readAll(s);
        s.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
        assert.equal(splitResponses(await all)[0]?.length, 1024);
      }
      // sendfile and a large upload.
      const got = await new Promise<Buffer>((resolve, reject) =>
        execFile(
          'curl',
          ['-s', '--max-time', '120', `http://127.0.0.1:${h.port}/file`],
          { encoding: 'buffer', maxBuffer: 64 << 20 },
          (e, out) => (e ? reject(e) : resolve(out)),
        ),
      );
      assert.ok(got.equals(data));
      const s = await connect(h.port);
      const up = randomBytes(5 * 1024 * 1024);
      const [answer] = await exchange(
        s,
        Buffer.concat([Buffer.from(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${up.length}\r\n\r\n`), up]),
        1,
      );
      assert.match(answer?.toString() ?? '', /^5242880 [0-9a-f]{64}$/);
      s.destroy();
      // A peer reset while a large response is queued.
      const r = await connect(h.port);
      r.pause();
      r.write('GET /big?n=33554432 HTTP/1.1\r\nHost: t\r\n\r\n');
      await new Promise((res) => setTimeout(res, 200));
      r.resetAndDestroy();
      // /spawn: the launcher (see the header about pidfd_open under valgrind).
      const sp = await connect(h.port);
      const spAll = readAll(sp);
      sp.write('GET /spawn HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
      const spOut = await spAll.catch(() => Buffer.alloc(0));
      assert.ok(spOut.length === 0 || splitResponses(spOut)[0]?.toString() === 'spawned\n');
    } finally {
      process.kill(h.pid, 'SIGTERM');
    }
    const code = await exited;
    const text = fs.readFileSync(log, 'utf8');
    const s = judge(text);
    t.diagnostic(`memcheck (harness): ${JSON.stringify(s)}; ${/suppressed: \d+ from \d+/.exec(text)?.[0] ?? '?'}`);
    assert.equal(code, 0, `harness exited with ${code}`);
    assert.deepEqual(verdict(s), { errors: 0, definite: 0, indirect: 0, possible: 0 }, shown(text));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the server itself (native transport) under a short load: 0 errors, no leaks', async (t) => {
    for (const tool of ['valgrind', 'curl']) {
      const why = ensureTool(tool);
      if (why !== null) {
        t.skip(why);
        return;
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-valgrind-'));
    const log = path.join(dir, 'memcheck.log');
    const www = path.join(dir, 'www');
    fs.mkdirSync(path.join(www, 'up'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'cgi'));
    fs.writeFileSync(path.join(www, 'index.html'), 'x'.repeat(1024));
    const data = randomBytes(5 * 1024 * 1024);
    fs.writeFileSync(path.join(www, 'file.bin'), data);
    fs.writeFileSync(path.join(dir, 'cgi', 'hi.py'), 'print("Content-Type: text/plain")\nprint()\nprint("hi")\n');
    const port = await freePort();
    const conf = path.join(dir, 'valgrind.conf');
    fs.writeFileSync(
      conf,
      `transport native
server {
  listen 127.0.0.1:${port}
  body_limit 10m
  location / {
    root ${www}
    default_file index.html
  }
  location /up {
    methods GET POST DELETE
    root ${www}/up
  }
  location /cgi {
    root ${dir}/cgi
    cgi .py /usr/bin/python3
  }
}
`,
    );
    const child = spawn(
      'valgrind',
      [...VALGRIND, `--suppressions=${SUPP}`, `--log-file=${log}`, process.execPath, MAIN, conf],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOCALHOST_TRANSPORT: 'native' },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    try {
      await until(() => /^listening on /m.test(out), "the server's 'listening on' line under valgrind", 300_000, 100);
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < 5; i++)
            assert.equal((await exchange(c, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', 1))[0]?.length, 1024);
          const piped = await exchange(c, 'GET /nope HTTP/1.1\r\nHost: t\r\n\r\n'.repeat(5), 5);
          assert.equal(piped.length, 5);
          c.end();
        }),
      );
      for (let i = 0; i < 5; i++) {
        const c = await connect(port);
        const all = readAll(c);
        c.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
        assert.equal(splitResponses(await all)[0]?.length, 1024);
      }
      const got = await new Promise<Buffer>((resolve, reject) =>
        execFile(
          'curl',
          ['-s', '--max-time', '120', `http://127.0.0.1:${port}/file.bin`],
          { encoding: 'buffer', maxBuffer: 64 << 20 },
          (e, stdout) => (e ? reject(e) : resolve(stdout)),
        ),
      );
      assert.ok(got.equals(data), 'download differs');
      const up = randomBytes(5 * 1024 * 1024);
      const u = await connect(port);
      const [created] = await exchange(
        u,
        Buffer.concat([
          Buffer.from(
            `POST /up/u.bin HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: ${up.length}\r\n\r\n`,
          ),
          up,
        ]),
        1,
      );
      assert.ok(created !== undefined);
      u.destroy();
      assert.ok(fs.readFileSync(path.join(www, 'up', 'u.bin')).equals(up), 'stored upload differs');
      // A reset while a large response is queued.
      const r = await connect(port);
      r.pause();
      r.write('GET /file.bin HTTP/1.1\r\nHost: t\r\n\r\n');
      await until(() => r.readableLength > 0 || r.bytesWritten > 0, 'the request to leave', 30_000);
      r.resetAndDestroy();
      // CGI: under valgrind 3.19 pidfd_open is ENOSYS, so this takes the launcher's failure path (see the header).
      const c = await connect(port);
      const cgiAll = readAll(c);
      c.write('GET /cgi/hi.py HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
      assert.match((await cgiAll).toString('latin1'), /^HTTP\/1\.1 (200|502) /);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    const text = fs.readFileSync(log, 'utf8');
    const s = judge(text);
    t.diagnostic(`memcheck (server): ${JSON.stringify(s)}; ${/suppressed: \d+ from \d+/.exec(text)?.[0] ?? '?'}`);
    assert.equal(code, 0, `server exited with ${code}: ${out.slice(-2000)}`);
    assert.deepEqual(verdict(s), { errors: 0, definite: 0, indirect: 0, possible: 0 }, shown(text));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the argument-validation tests: 0 errors, no leaks, all passing', async (t) => {
    const why = ensureTool('valgrind');
    if (why !== null) {
      t.skip(why);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-valgrind-'));
    const log = path.join(dir, 'memcheck.log');
    // Without NODE_TEST_CONTEXT the file reports in TAP, as a program of its own, not to this runner.
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(
        'valgrind',
        [...VALGRIND, `--suppressions=${SUPP}`, `--log-file=${log}`, process.execPath, ADDON_TESTS],
        { encoding: 'utf8', timeout: 600_000, env },
        (e, out) => resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : -1, stdout: out }),
      ),
    );
    const text = fs.readFileSync(log, 'utf8');
    const s = judge(text);
    t.diagnostic(`memcheck (argument validation): ${JSON.stringify(s)}`);
    assert.equal(code, 0, stdout.slice(-3000));
    assert.match(stdout, /^(#|ℹ) fail 0$/m); // TAP on Node 20, the spec reporter on later ones
    assert.deepEqual(verdict(s), { errors: 0, definite: 0, indirect: 0, possible: 0 }, text.slice(-4000));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
