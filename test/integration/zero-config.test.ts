/**
 * Zero-config mode (issue 19): `localhost DIR -p N` serves a folder with no configuration file, with the safe
 * defaults (read-only, no listing, dotfiles hidden) and the opt-in flags (--listing, --upload, --cgi, --spa).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, MAIN } from '../helpers/server.js';
import { get, rawRequest } from '../helpers/http.js';

let tmp = '';
let site = '';

interface Started {
  readonly proc: ChildProcess;
  out(): string;
  stop(): Promise<number | null>;
}

/** Starts the CLI with `args` in `cwd`; resolves once it printed its URLs. */
function start(args: readonly string[], cwd = tmp): Promise<Started> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let out = '';
    const exited = new Promise<number | null>((res) => p.on('close', (code) => res(code)));
    const t = setTimeout(() => {
      reject(new Error(`no URL line:\n${out}`));
    }, 10_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^ {2}http:\/\//m.test(out)) {
        clearTimeout(t);
        resolve({
          proc: p,
          out: () => out,
          stop: () => {
            p.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => {
      clearTimeout(t);
      reject(new Error(`exited early:\n${out}`));
    });
  });
}

/** Runs the CLI to completion. */
function run(args: readonly string[], cwd = tmp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-zero-'));
  site = path.join(tmp, 'my site'); // a space: the generated configuration must quote it
  fs.mkdirSync(path.join(site, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(site, 'cgi'), { recursive: true });
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>zero</h1>\n');
  fs.writeFileSync(path.join(site, '.env'), 'SECRET=1\n');
  fs.writeFileSync(path.join(site, 'docs', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(site, 'cgi', 'hi.py'), 'print("Content-Type: text/plain")\nprint()\nprint("from cgi")\n');
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('localhost DIR -p N: serves the folder on 127.0.0.1, prints the URL, safe defaults', async () => {
  const port = await freePort();
  const s = await start([site, '-p', String(port)]);
  try {
    assert.match(s.out(), new RegExp(`^listening on 127\\.0\\.0\\.1:${port}`, 'm'));
    assert.ok(s.out().includes(`serving ${site}`), s.out());
    assert.match(s.out(), new RegExp(`^ {2}http://127\\.0\\.0\\.1:${port}/$`, 'm'));
    const home = await get(port, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body.toString(), '<h1>zero</h1>\n');
    assert.equal((await get(port, '/docs/a.txt')).body.toString(), 'a\n');
    assert.equal((await get(port, '/.env')).status, 404, 'dotfiles hidden');
    assert.equal((await get(port, '/docs/')).status, 403, 'no listing');
    const post = await rawRequest(port, 'POST /docs/new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx');
    assert.equal(post.status, 405, 'read-only');
    const del = await rawRequest(port, 'DELETE /docs/a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(del.status, 405);
    assert.ok(fs.existsSync(path.join(site, 'docs', 'a.txt')));
    // The CGI script is served as a file, not run.
    assert.match((await get(port, '/cgi/hi.py')).body.toString(), /print\("from cgi"\)/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('no argument and no ./config.conf: the working directory; -a picks the address', async () => {
  const port = await freePort();
  const s = await start(['--port', String(port), '-a', 'localhost'], site);
  try {
    assert.equal((await get(port, '/')).body.toString(), '<h1>zero</h1>\n');
  } finally {
    await s.stop();
  }
});

test('--listing, --upload: listing and writes only when asked', async () => {
  const port = await freePort();
  const s = await start([site, '-p', String(port), '--listing', '--upload']);
  try {
    const listing = await get(port, '/docs/');
    assert.equal(listing.status, 200);
    assert.match(listing.body.toString(), /a\.txt/);
    const put = await rawRequest(port, 'POST /docs/new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nnew');
    assert.equal(put.status, 201);
    assert.equal(fs.readFileSync(path.join(site, 'docs', 'new.txt'), 'utf8'), 'new');
    const del = await rawRequest(port, 'DELETE /docs/new.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(del.status, 204);
    assert.equal(fs.existsSync(path.join(site, 'docs', 'new.txt')), false);
    assert.equal((await get(port, '/.env')).status, 404, 'dotfiles still hidden');
  } finally {
    await s.stop();
  }
});

test('--cgi .py=python3 runs scripts; --upload beside it is refused', async () => {
  const port = await freePort();
  const s = await start([site, '-p', String(port), '--cgi', '.py=python3']);
  try {
    const r = await get(port, '/cgi/hi.py');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'from cgi\n');
  } finally {
    await s.stop();
  }
  const both = await run([site, '-p', String(port), '--cgi', '.py=python3', '--upload']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--upload and --cgi cannot share a folder/);
  const missing = await run([site, '-p', String(port), '--cgi', '.xyz=no-such-interpreter-here']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\(command line\):\d+:\d+: interpreter "no-such-interpreter-here" not found/);
});

test('--spa: a path that is no file gets index.html, with status 200', async () => {
  const port = await freePort();
  const s = await start([site, '-p', String(port), '--spa']);
  try {
    const deep = await get(port, '/app/route/42');
    assert.equal(deep.status, 200);
    assert.equal(deep.body.toString(), '<h1>zero</h1>\n');
    assert.equal((await get(port, '/docs/a.txt')).body.toString(), 'a\n');
  } finally {
    await s.stop();
  }
});

test('-T prints the generated configuration; a positional file is still a configuration', async () => {
  const port = await freePort();
  const T = await run(['-T', site, '-p', String(port), '--listing']);
  assert.equal(T.code, 0, T.stderr);
  assert.ok(T.stdout.includes(`listen 127.0.0.1:${port}\n`), T.stdout);
  assert.ok(T.stdout.includes(`root "${site}"\n`), T.stdout);
  assert.match(T.stdout, /directory_listing on/);
  const conf = path.join(tmp, 'site.conf');
  fs.writeFileSync(conf, `server {\n  listen 127.0.0.1:${port}\n  location / {\n    root "${site}/docs"\n  }\n}\n`);
  const p = spawn(process.execPath, [MAIN, conf], { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmp });
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^listening on /m.test(out)) resolve();
      });
      p.on('close', () => {
        reject(new Error(out));
      });
    });
    assert.equal((await get(port, '/a.txt')).body.toString(), 'a\n', "the file's root, not folder mode");
    assert.doesNotMatch(out, /serving /);
  } finally {
    p.kill('SIGTERM');
  }
  const t = await run(['-t', conf]);
  assert.equal(t.code, 0);
  assert.match(t.stdout, /site\.conf: configuration is valid/);
});
