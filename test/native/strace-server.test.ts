/**
 * The same system-call discipline as strace.test.ts, on the real server (build/src/main.js on the native
 * transport) rather than the harness: a 5 MiB download (sendfile), a 5 MiB upload stored by the upload handler,
 * 50 concurrent keep-alive clients on a cached 1 KiB page, and a slow reader of the 5 MiB file (so that the
 * kernel pushes back and the EPOLLOUT rule is exercised). strace-parse.ts checks the trace: at most one read and
 * one write-class call per client fd between two wake-ups, and no write after EAGAIN (or a short write) without
 * an EPOLLOUT for that fd in between.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { freePort, MAIN } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { checkTrace } from './strace-parse.js';
import { connect, ensureTool, exchange, native, splitResponses } from './support.js';

const n = native();
const skip = typeof n === 'string' ? n : false;

function curl(args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-s', '--max-time', '60', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (e, stdout) =>
      e ? reject(e) : resolve(stdout),
    ),
  );
}

/** Reads a whole Connection: close response slowly (pausing after each chunk); its body. */
async function slowGet(port: number, target: string): Promise<Buffer> {
  const s = await connect(port);
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve) => s.once('end', () => resolve()));
  s.on('data', (d: Buffer) => {
    parts.push(d);
    s.pause();
    setTimeout(() => s.resume(), 2);
  });
  s.write(`GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
  await done;
  s.destroy();
  const [body] = splitResponses(Buffer.concat(parts));
  return body ?? Buffer.alloc(0);
}

describe('strace of the server on the native transport', { skip }, () => {
  it('one read and one write per client fd per wake-up, EPOLLOUT before a retried write', async (t) => {
    for (const [cmd, pkg] of [
      ['strace', 'strace'],
      ['curl', 'curl'],
    ] as const) {
      const why = ensureTool(cmd, pkg);
      if (why !== null) {
        t.skip(why);
        return;
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-strace-'));
    const www = path.join(dir, 'www');
    fs.mkdirSync(path.join(www, 'up'), { recursive: true });
    const data = randomBytes(5 * 1024 * 1024);
    fs.writeFileSync(path.join(www, 'file.bin'), data);
    fs.writeFileSync(path.join(www, 'index.html'), 'x'.repeat(1024));
    const up = randomBytes(5 * 1024 * 1024);
    const upload = path.join(dir, 'upload.bin');
    fs.writeFileSync(upload, up);
    const port = await freePort();
    const conf = path.join(dir, 'strace.conf');
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
    methods GET POST
    root ${www}/up
  }
}
`,
    );
    const trace = path.join(dir, 'trace.txt');
    const strace = spawn(
      'strace',
      [
        '-f',
        '-qq',
        '-s',
        '300',
        '-e',
        'trace=epoll_wait,epoll_pwait,read,write,writev,sendfile,accept4,close',
        '-e',
        'signal=none',
        '-o',
        trace,
        process.execPath,
        MAIN,
        conf,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOCALHOST_TRANSPORT: 'native' } },
    );
    let out = '';
    strace.stdout.on('data', (d: Buffer) => (out += d.toString()));
    strace.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const stopped = new Promise<void>((resolve) => strace.once('exit', () => resolve()));
    try {
      await until(() => /^listening on /m.test(out), "the server's 'listening on' line", 60_000);
      assert.match(out, /^transport: native /m);
      const url = `http://127.0.0.1:${port}`;
      const got = await curl([`${url}/file.bin`]);
      assert.ok(got.equals(data), 'download differs');
      await curl([
        '-f',
        '-H',
        'Expect:',
        '-H',
        'Content-Type: application/octet-stream',
        '--data-binary',
        `@${upload}`,
        `${url}/up/u.bin`,
      ]);
      assert.ok(fs.readFileSync(path.join(www, 'up', 'u.bin')).equals(up), 'stored upload differs');
      const clients = await Promise.all(Array.from({ length: 50 }, () => connect(port)));
      await Promise.all(
        clients.map(async (s) => {
          for (let i = 0; i < 20; i++) {
            const [body] = await exchange(s, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', 1);
            assert.equal(body?.length, 1024);
          }
          s.destroy();
        }),
      );
      const slow = await slowGet(port, '/file.bin');
      assert.ok(slow.equals(data), 'slow download differs');
    } finally {
      // strace blocks fatal signals while it runs a command with -o (its -I default): stop the server itself,
      // its one child, and strace follows it out.
      const children = fs.readFileSync(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8').trim();
      for (const pid of children.split(/\s+/).filter((x) => x !== '')) process.kill(Number(pid), 'SIGTERM');
      const killer = setTimeout(() => strace.kill('SIGKILL'), 10_000);
      await stopped;
      clearTimeout(killer);
    }
    const report = checkTrace(fs.readFileSync(trace, 'utf8'));
    t.diagnostic(`strace: ${JSON.stringify(report.stats)}`);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(report.violations.slice(0, 20), []);
    assert.ok(report.stats.clients >= 53, `only ${report.stats.clients} clients in the trace`);
    assert.ok(report.stats.sendfiles >= 2, 'no sendfile in the trace');
    assert.ok(
      report.stats.writesShort + report.stats.writesEagain > 0,
      'the kernel never pushed back: the EPOLLOUT rule was not exercised',
    );
    assert.ok(report.stats.epollout > 0, 'no EPOLLOUT reported for a client');
  });
});
