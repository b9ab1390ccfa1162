/**
 * The command line (DESIGN §1): -t, -h, -v, config errors as FILE:LINE:COL, start-up lines, a port in use, and
 * a clean exit on SIGTERM/SIGINT.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, MAIN, REPO } from '../helpers/server.js';
import { get } from '../helpers/http.js';

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs main.js to completion (killed after `timeoutMs`), with `env` added to the environment. */
function run(args: readonly string[], timeoutMs = 10_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmp,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts main.js and resolves once `n` "listening on" lines were printed. */
function startMain(
  config: string,
  n: number,
): Promise<{ proc: ReturnType<typeof spawn>; out: () => string; exited: Promise<Run> }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<Run>((res) =>
      p.on('close', (code, signal) => {
        res({ code, signal, stdout, stderr });
      }),
    );
    const t = setTimeout(() => {
      reject(new Error(`no start-up lines:\n${stdout}${stderr}`));
    }, 10_000);
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if ((stdout.match(/^listening on /gm) ?? []).length >= n) {
        clearTimeout(t);
        resolve({ proc: p, out: () => stdout, exited });
      }
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', () => {
      clearTimeout(t);
      reject(new Error(`exited early:\n${stdout}${stderr}`));
    });
  });
}

let tmp = '';
let site = '';

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-cli-'));
  site = path.join(tmp, 'www');
  fs.mkdirSync(site);
  fs.writeFileSync(path.join(site, 'index.html'), 'cli site\n');
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

const valid = (port: number | string, extra = ''): string => `server {
  host 127.0.0.1
  port ${port}
  ${extra}
  location / {
    root ${site}
    default_file index.html
  }
}
`;

describe('-t, -h, -v', () => {
  test('-t on a valid config exits 0', async () => {
    const file = writeConfig('valid.conf', valid(8080));
    const r = await run(['-t', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /valid/);
  });

  test('-t after the file name works too', async () => {
    const file = writeConfig('valid2.conf', valid(8080));
    assert.equal((await run([file, '-t'])).code, 0);
  });

  test('-t on the repository config.conf exits 0', async () => {
    const r = await run(['-t', path.join(REPO, 'config.conf')]);
    assert.equal(r.code, 0, r.stderr);
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['a bad port', 'server {\n  host 127.0.0.1\n  port 70000\n  location / { root /tmp }\n}\n', /:3:8: .*port/],
    [
      'a misspelt directive, with a suggestion',
      'server {\n  host 127.0.0.1\n  port 8080\n  server_nme foo\n  location / { root /tmp }\n}\n',
      /:4:3: .*server_nme.*server_name/,
    ],
    ['a missing host', 'server {\n  port 8080\n  location / { root /tmp }\n}\n', /:1:1: .*host/],
    [
      'an unclosed block',
      'server {\n  host 127.0.0.1\n  port 8080\n  location / {\n    root /tmp\n',
      /:\d+:\d+: .*"\}"/,
    ],
    ['a stray closing brace', 'server {\n  host 127.0.0.1\n  port 8080\n  location / { root /tmp }\n}\n}\n', /:6:1: /],
    [
      'a location path without "/"',
      'server {\n  host 127.0.0.1\n  port 8080\n  location files { root /tmp }\n}\n',
      /:4:12: .*files/,
    ],
    [
      'a method that is not a token',
      'server {\n  host 127.0.0.1\n  port 8080\n  location / {\n    methods GET FE(CH\n    root /tmp\n  }\n}\n',
      /:5:17: .*FE\(CH/,
    ],
    [
      'the same port twice',
      'server {\n  host 127.0.0.1\n  port 8080 8080\n  location / { root /tmp }\n}\n',
      /:3:13: .*8080/,
    ],
    [
      'a bad on|off',
      'server {\n  host 127.0.0.1\n  port 8080\n  location / {\n    root /tmp\n    directory_listing maybe\n  }\n}\n',
      /:6:23: .*maybe/,
    ],
    [
      'an error_page file that does not exist',
      'server {\n  host 127.0.0.1\n  port 8080\n  error_page 404 ./nonexistent/404.html\n  location / { root /tmp }\n}\n',
      /:4:\d+: .*404\.html/,
    ],
    ['a directive outside a server block', 'port 8080\n', /:1:1: /],
  ];
  for (const [name, text, pattern] of invalid) {
    test(`-t on ${name}: exit 1, FILE:LINE:COL on stderr`, async () => {
      const file = writeConfig('bad.conf', text);
      const r = await run(['-t', file]);
      assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
      const first = r.stderr.split('\n')[0]!;
      assert.ok(first.startsWith(`${file}:`), `stderr names the file: ${JSON.stringify(r.stderr)}`);
      assert.match(first, /^.+:\d+:\d+: \S/);
      assert.match(first, pattern);
    });
  }

  test('a config error at start-up (no -t) also exits 1 before binding anything', async () => {
    const port = await freePort();
    const file = writeConfig('bad-start.conf', valid(port, 'bogus_directive 1'));
    const r = await run([file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:3: `, 'm'));
    assert.doesNotMatch(r.stdout, /listening on/);
  });

  test('a missing config file: exit 1 with the file name', async () => {
    const r = await run(['-t', path.join(tmp, 'nope.conf')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.conf/);
  });

  test('-h prints usage and exits 0', async () => {
    const r = await run(['-h']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage/i);
    assert.match(r.stdout, /-t/);
  });

  test('-v prints the version and exits 0', async () => {
    const r = await run(['-v']);
    assert.equal(r.code, 0);
    assert.match(r.stdout.trim(), /^localhost\/\d+\.\d+\.\d+$/);
  });

  test('an unknown option is a usage error: exit 2', async () => {
    const r = await run(['-x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-x/);
  });
});

describe('running', () => {
  test('start-up prints one "listening on" line per listener, then serves', async () => {
    const p1 = await freePort();
    const p2 = await freePort();
    const file = writeConfig(
      'two.conf',
      `server {\n  host 127.0.0.1\n  port ${p1} ${p2}\n  server_name cli.test\n  location / {\n    root ${site}\n    default_file index.html\n  }\n}\n`,
    );
    const s = await startMain(file, 2);
    try {
      const lines = s
        .out()
        .split('\n')
        .filter((l) => l.startsWith('listening on '));
      assert.equal(lines.length, 2);
      assert.ok(lines[0]!.startsWith(`listening on 127.0.0.1:${p1}`), lines[0]);
      assert.ok(lines[1]!.startsWith(`listening on 127.0.0.1:${p2}`), lines[1]);
      assert.match(lines[0]!, /cli\.test/);
      for (const p of [p1, p2]) assert.equal((await get(p, '/')).body.toString(), 'cli site\n');
    } finally {
      s.proc.kill('SIGTERM');
      await s.exited;
    }
  });

  test('a port already in use: exit 1 with an error naming the address', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => {
      blocker.listen(0, '127.0.0.1', () => {
        resolve((blocker.address() as net.AddressInfo).port);
      });
    });
    try {
      const file = writeConfig('busy.conf', valid(port));
      const r = await run([file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(r.stderr, /EADDRINUSE|in use/i);
    } finally {
      blocker.close();
    }
  });

  test('SIGTERM: exit 0', async () => {
    const port = await freePort();
    const s = await startMain(writeConfig('term.conf', valid(port)), 1);
    assert.equal((await get(port, '/')).status, 200);
    s.proc.kill('SIGTERM');
    const r = await s.exited;
    assert.equal(r.code, 0, `exit ${r.code}, signal ${r.signal}: ${r.stdout}${r.stderr}`);
    assert.equal(r.signal, null);
  });

  test('SIGINT or SIGTERM sent the moment "listening on" is printed: exit 0 (6 runs)', async () => {
    // The listening line announces readiness, so the signal handlers must be in place before it is printed.
    // One run may win the race by luck; six in a row do not.
    for (let i = 0; i < 6; i++) {
      const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
      const port = await freePort();
      const s = await startMain(writeConfig('int.conf', valid(port)), 1);
      s.proc.kill(signal);
      const r = await s.exited;
      assert.equal(r.code, 0, `run ${i}, ${signal}: exit ${r.code}, signal ${r.signal}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`${signal}: shutting down`));
    }
  });

  test('SIGTERM with an idle keep-alive connection open still exits 0 promptly', async () => {
    const port = await freePort();
    const s = await startMain(writeConfig('term2.conf', valid(port)), 1);
    const sock = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve) =>
      sock.on('connect', () => {
        resolve();
      }),
    );
    sock.on('error', () => undefined);
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) =>
      sock.once('data', () => {
        resolve();
      }),
    );
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    const r = await s.exited;
    sock.destroy();
    assert.equal(r.code, 0);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });
});

describe('start-up under adverse output', () => {
  test('stdout and stderr closed by their reader: the server keeps serving and SIGTERM still ends it', async () => {
    // Before: each failed write became an uncaught exception whose report failed again, a loop at 100 % CPU
    // that no signal could interrupt.
    const port = await freePort();
    const s = await startMain(writeConfig('closed-out.conf', valid(port)), 1);
    s.proc.stdout?.destroy();
    s.proc.stderr?.destroy();
    // A 404 writes nothing to stdout, a request for a missing error page would; any request makes output likelier.
    for (let i = 0; i < 3; i++) assert.equal((await get(port, '/')).status, 200);
    s.proc.kill('SIGTERM');
    const killer = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
    const r = await s.exited;
    clearTimeout(killer);
    assert.equal(r.signal, null, 'SIGTERM was not handled within 5 s (the server was stuck)');
    assert.equal(r.code, 0);
  });
});

describe('transport choice (docs/ARCHITECTURE.md "Transports")', () => {
  /** Starts the server once with `env`, returns what it printed before being stopped. */
  async function startupLines(conf: string, env: NodeJS.ProcessEnv): Promise<Run> {
    const p = spawn(process.execPath, [MAIN, conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/^listening on /m.test(stdout)) p.kill('SIGTERM');
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    return new Promise((resolve) =>
      p.on('close', (code, signal) => {
        clearTimeout(killer);
        resolve({ code, signal, stdout, stderr });
      }),
    );
  }

  test('"transport node" in the file: the start-up line says node', async () => {
    const file = writeConfig(
      't-node.conf',
      `transport node
${valid(await freePort())}`,
    );
    const r = await startupLines(file, { LOCALHOST_TRANSPORT: '' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^transport: node \(node:net, child_process\)$/m);
  });

  test('LOCALHOST_TRANSPORT overrides the file', async () => {
    const file = writeConfig(
      't-env.conf',
      `transport native
${valid(await freePort())}`,
    );
    const r = await startupLines(file, { LOCALHOST_TRANSPORT: 'node' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^transport: node /m);
  });

  test('nothing asked and no addon: the portable transport, with one line saying why', async () => {
    const file = writeConfig('t-none.conf', valid(await freePort()));
    const r = await startupLines(file, { LOCALHOST_TRANSPORT: '', LOCALHOST_NATIVE: '0' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('transport: '));
    assert.deepEqual(lines, ['transport: node, the portable one (native unavailable: disabled by LOCALHOST_NATIVE=0)']);
  });

  test('native asked for where it cannot run: exit 1 naming why, nothing bound', async () => {
    const port = await freePort();
    const file = writeConfig(
      't-must.conf',
      `transport native
${valid(port)}`,
    );
    const r = await run([file], 10_000, { LOCALHOST_TRANSPORT: '', LOCALHOST_NATIVE: '0' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /"transport native" in the configuration, but the native transport cannot run: disabled/);
    assert.doesNotMatch(r.stdout, /listening on/);
    const r2 = await run([writeConfig('t-must2.conf', valid(port))], 10_000, {
      LOCALHOST_TRANSPORT: 'native',
      LOCALHOST_NATIVE: '0',
    });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /^LOCALHOST_TRANSPORT=native, but the native transport cannot run/m);
  });

  test('a bad LOCALHOST_TRANSPORT or "transport" value is refused', async () => {
    const r = await run([writeConfig('t-bad.conf', valid(await freePort()))], 10_000, { LOCALHOST_TRANSPORT: 'epoll' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^LOCALHOST_TRANSPORT=epoll: expected native or node$/m);
    const file = writeConfig(
      't-bad2.conf',
      `transport uring
${valid(await freePort())}`,
    );
    const r2 = await run(['-t', file]);
    assert.equal(r2.code, 1);
    assert.match(
      r2.stderr,
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:11: bad value "uring" for "transport": expected native or node`,
        'm',
      ),
    );
  });
});
