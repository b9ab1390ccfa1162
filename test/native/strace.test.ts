/**
 * The native transport's system-call discipline, seen by strace: the harness runs under
 * `strace -f -e trace=epoll_wait,epoll_pwait,read,write,writev,sendfile,accept4,close` while it serves a 5 MiB
 * download (curl), a 5 MiB upload (curl), 50 concurrent keep-alive clients, and two slow readers (so that the
 * kernel pushes back and the EPOLLOUT rule is exercised). strace-parse.ts then checks: at most one read and one
 * write-class call per client fd between two wake-ups, and no write after EAGAIN (or a short write) without an
 * EPOLLOUT for that fd in between. (close is traced only to know when an fd number stops being a client.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { checkTrace } from './strace-parse.js';
import { connect, ensureTool, exchange, native, splitResponses, startListening } from './support.js';

const HARNESS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'harness.js');
const n = native();
const skip = typeof n === 'string' ? n : false;

function curl(args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-s', '--max-time', '60', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (e, stdout) =>
      e ? reject(e) : resolve(stdout),
    ),
  );
}

/** Reads a whole Connection: close response slowly (pausing after each chunk). */
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

describe('strace: one read and one write per fd per wake-up, EPOLLOUT before a retried write', { skip }, () => {
  it('holds during a 5 MiB download, a 5 MiB upload, 50 keep-alive clients and two slow readers', async (t) => {
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
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-strace-'));
    const file = path.join(dir, 'file.bin');
    const trace = path.join(dir, 'trace.txt');
    const data = randomBytes(5 * 1024 * 1024);
    fs.writeFileSync(file, data);
    const upload = path.join(dir, 'upload.bin');
    const up = randomBytes(5 * 1024 * 1024);
    fs.writeFileSync(upload, up);
    const h = await startListening('strace', [
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
      HARNESS,
      '--file',
      file,
    ]);
    try {
      const url = `http://127.0.0.1:${h.port}`;
      const got = await curl([`${url}/file`]);
      assert.ok(got.equals(data), 'download differs');
      const answer = (await curl(['-H', 'Expect:', '--data-binary', `@${upload}`, `${url}/upload`])).toString();
      assert.equal(answer, `${up.length} ${createHash('sha256').update(up).digest('hex')}`);
      const clients = await Promise.all(Array.from({ length: 50 }, () => connect(h.port)));
      await Promise.all(
        clients.map(async (s) => {
          for (let i = 0; i < 20; i++) {
            const [body] = await exchange(s, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', 1);
            assert.equal(body?.length, 1024);
          }
          s.destroy();
        }),
      );
      const [slowFile, slowBig] = await Promise.all([slowGet(h.port, '/file'), slowGet(h.port, '/big?n=16777216')]);
      assert.ok(slowFile.equals(data), 'slow download differs');
      assert.equal(slowBig.length, 16777216);
    } finally {
      process.kill(h.pid, 'SIGTERM');
      await new Promise<void>((resolve) =>
        h.child.exitCode !== null ? resolve() : h.child.once('exit', () => resolve()),
      );
    }
    const report = checkTrace(fs.readFileSync(trace, 'utf8'));
    t.diagnostic(`strace: ${JSON.stringify(report.stats)}`);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(report.violations.slice(0, 20), []);
    assert.ok(report.stats.clients >= 54, `only ${report.stats.clients} clients in the trace`);
    assert.ok(report.stats.sendfiles >= 2, 'no sendfile in the trace');
    assert.ok(
      report.stats.writesShort + report.stats.writesEagain > 0,
      'the kernel never pushed back: the EPOLLOUT rule was not exercised',
    );
    assert.ok(report.stats.epollout > 0, 'no EPOLLOUT reported for a client');
  });
});
