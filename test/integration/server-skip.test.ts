/**
 * One broken server never stops the others (DESIGN §9), through the real binary: a bad directive, a missing
 * error_page file and a port already in use each cost only their own server, at start and on SIGHUP; `-t` lists
 * every error; `--strict` and `strict on` keep all-or-nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, MAIN } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

let tmp = '';
let busy: net.Server;
let busyPort = 0;
let good1 = 0;
let good2 = 0;
let good3 = 0;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-skip-'));
  fs.mkdirSync(path.join(tmp, 'www'));
  fs.writeFileSync(path.join(tmp, 'www', 'index.html'), 'good\n');
  busy = net.createServer();
  busyPort = await new Promise<number>((resolve) =>
    busy.listen(0, '127.0.0.1', () => {
      resolve((busy.address() as net.AddressInfo).port);
    }),
  );
  [good1, good2, good3] = [await freePort(), await freePort(), await freePort()];
});

after(() => {
  busy.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const block = (port: number, name: string, extra = ''): string =>
  `server {\n  host 127.0.0.1\n  port ${port}\n  server_name ${name}\n${extra}  location / {\n    root ${tmp}/www\n    default_file index.html\n  }\n}\n`;

/** Five servers: good1, a misspelt directive, a missing error_page file, a port in use, good2. */
const broken = (): string =>
  block(good1, 'good1') +
  block(good1, 'bad-directive', '  body_limt 1k\n') +
  block(good1, 'bad-page', '  error_page 404 ./nope.html\n') +
  block(busyPort, 'bad-port') +
  block(good2, 'good2');

function write(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

interface Proc {
  readonly proc: ReturnType<typeof spawn>;
  out(): string;
  readonly exited: Promise<number | null>;
}

function start(args: readonly string[]): Proc {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('close', (code) => {
      resolve(code);
    }),
  );
  return { proc, out: () => out, exited };
}

const skipped = (out: string): string[] => out.split('\n').filter((l) => l.endsWith('(server skipped)'));

describe('at start', () => {
  test('the two good servers serve; each broken one is reported FILE:LINE:COL … (server skipped)', async () => {
    const file = write('five.conf', broken());
    const p = start([file]);
    try {
      // The bind failure is reported when the listen call fails, which may come after the other servers' lines.
      await until(
        () =>
          (/listening on 127\.0\.0\.1:\d+[^\n]*\n[^]*listening on/.test(p.out()) && /EADDRINUSE/.test(p.out())) ||
          p.proc.exitCode !== null,
        'start-up',
        10_000,
      );
      const lines = skipped(p.out());
      assert.equal(lines.length, 3, p.out());
      assert.match(lines[0] ?? '', new RegExp(`^${file}:14:3: unknown directive "body_limt" .*\\(server skipped\\)$`));
      assert.match(lines[1] ?? '', new RegExp(`^${file}:24:18: error_page file "./nope.html" does not exist`));
      assert.match(
        lines[2] ?? '',
        new RegExp(`^${file}:32:8: cannot listen on 127\\.0\\.0\\.1:${busyPort}: EADDRINUSE \\(server skipped\\)$`),
      );
      for (const port of [good1, good2]) assert.equal((await get(port, '/')).body.toString(), 'good\n');
      assert.equal(
        (await get(good1, '/', { Host: 'bad-directive' })).body.toString(),
        'good\n',
        'its name falls to the default',
      );
    } finally {
      p.proc.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    }
  });

  test('-t lists every configuration error and exits 1', async () => {
    const p = start(['-t', write('five-t.conf', broken())]);
    assert.equal(await p.exited, 1);
    assert.equal(skipped(p.out()).length, 2, p.out()); // -t does not bind: the busy port is not an error here
  });

  test('--strict, or "strict on" in the file: nothing starts, exit 1, no port left bound', async () => {
    for (const args of [
      ['--strict', write('five-s.conf', broken())],
      [write('five-on.conf', `strict on\n${broken()}`)],
    ]) {
      const p = start(args);
      assert.equal(await p.exited, 1, p.out());
      assert.doesNotMatch(p.out(), /\(server skipped\)/);
      assert.doesNotMatch(p.out(), /^listening on/m);
      // The good ports are free again: bind them ourselves.
      for (const port of [good1, good2]) {
        const s = net.createServer();
        await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', resolve));
        await new Promise<void>((resolve) =>
          s.close(() => {
            resolve();
          }),
        );
      }
    }
  });

  test('when no server can run: exit 1', async () => {
    const p = start([write('none.conf', block(busyPort, 'only'))]);
    assert.equal(await p.exited, 1);
    assert.match(p.out(), /no server can run/);
  });
});

describe('on SIGHUP', () => {
  test('a server broken by the new file is skipped; the others reload and serve', async () => {
    const file = write('reload.conf', block(good1, 'a') + block(good2, 'b'));
    const p = start([file]);
    try {
      await until(() => (p.out().match(/^listening on/gm) ?? []).length === 2, 'start-up', 10_000);
      fs.writeFileSync(path.join(tmp, 'www', 'three.html'), 'three\n');
      fs.writeFileSync(file, block(good1, 'a') + block(good2, 'b', '  keepalive_timout 5s\n') + block(good3, 'c'));
      p.proc.kill('SIGHUP');
      await until(() => /^reloaded$/m.test(p.out()), '"reloaded"', 10_000);
      assert.equal((await get(good1, '/')).status, 200);
      assert.equal((await get(good3, '/three.html')).body.toString(), 'three\n');
      await assert.rejects(get(good2, '/'), /ECONNREFUSED/, 'the skipped server no longer listens');
    } finally {
      p.proc.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    }
  });
});
