/**
 * nginx's command-line reflexes (issue 19), through the real CLI: -t and -T, -c FILE, the pid file (written at
 * start, removed at exit, a stale one detected), -s stop|quit|reload|reopen through it, -g, -V, --directives,
 * --help, and exit status 2 for usage errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { directiveTable } from '../../src/config/validate.js';
import { freePort, MAIN } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let tmp = '';

/** Runs the CLI to completion (killed after 10 s) in `cwd`. */
function run(args: readonly string[], cwd = tmp): Promise<Run> {
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

interface Started {
  readonly proc: ChildProcess;
  out(): string;
  readonly exited: Promise<number | null>;
}

/** Starts the CLI and resolves once it printed a "listening on" line. */
function start(args: readonly string[]): Promise<Started> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmp });
    let out = '';
    const exited = new Promise<number | null>((res) => p.on('close', (code) => res(code)));
    const t = setTimeout(() => {
      reject(new Error(`no start-up line:\n${out}`));
    }, 10_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^listening on /m.test(out)) {
        clearTimeout(t);
        resolve({ proc: p, out: () => out, exited });
      }
    });
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => {
      clearTimeout(t);
      reject(new Error(`exited early:\n${out}`));
    });
  });
}

/** A configuration serving `www/` on `port`, with `top` at top level and `extra` in the server block. */
function writeConf(name: string, port: number, top = '', extra = ''): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(
    file,
    `${top}\nserver {\n  listen 127.0.0.1:${port}\n  ${extra}\n  location / {\n    root ${tmp}/www\n    default_file index.html\n  }\n}\n`,
  );
  return file;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-cli-nginx-'));
  fs.mkdirSync(path.join(tmp, 'www'));
  fs.writeFileSync(path.join(tmp, 'www', 'index.html'), 'nginx reflexes\n');
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('flags that answer and exit', () => {
  test('-t: 0 on a valid file; -T also prints the file', async () => {
    const file = writeConf('ok.conf', await freePort(), '', '# a comment only -T shows');
    const t = await run(['-t', file]);
    assert.equal(t.code, 0, t.stderr);
    assert.doesNotMatch(t.stdout, /a comment only -T shows/);
    const T = await run(['-T', '-c', file]);
    assert.equal(T.code, 0, T.stderr);
    assert.ok(T.stdout.includes(`# configuration file ${file}:\n`), T.stdout);
    assert.ok(T.stdout.includes(fs.readFileSync(file, 'utf8')), 'the whole file is printed');
    assert.match(T.stdout, /configuration is valid/);
  });

  test('-T on a broken file: the errors and exit 1', async () => {
    const file = writeConf('bad.conf', await freePort(), 'bogus 1');
    const r = await run(['-T', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`bad\\.conf:1:1: unknown directive "bogus"`));
  });

  test('usage errors exit 2 and say what was wrong', async () => {
    const file = writeConf('u.conf', await freePort());
    const cases: [string[], RegExp][] = [
      [['-x'], /unknown option -x/],
      [['-c'], /-c needs a value/],
      [['-s', 'restart', file], /bad signal "restart"/],
      [['-p', '99999', path.join(tmp, 'www')], /bad port "99999"/],
      [['-c', file, file], /both name what to serve/],
      [[file, file], /only one DIR or CONFIG/],
      [['--port', '8080', file], /--port serves a folder without a configuration/],
      [['-s', 'stop', '-t', file], /-s cannot be combined/],
      [['--cgi', 'py=python3'], /bad --cgi/],
      [['--spa=yes'], /takes no value/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(' '));
      assert.match(r.stderr, /usage: localhost/);
    }
  });

  test('--help lists every flag and ends with how to list the directives', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const flag of ['-t', '-T', '-c', '-s', '-g', '-V', '-v', '-p', '--port', '-a', '--address', '--spa'])
      assert.ok(r.stdout.includes(` ${flag} `) || r.stdout.includes(` ${flag},`), `--help mentions ${flag}`);
    for (const flag of ['--listing', '--upload', '--cgi', '--strict', '--directives'])
      assert.ok(r.stdout.includes(flag), flag);
    assert.match(r.stdout.trimEnd().split('\n').at(-1) ?? '', /localhost --directives$/);
  });

  test('-V: version, node, platform and the transports this machine has', async () => {
    const r = await run(['-V']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^localhost\/\d+\.\d+\.\d+\n/);
    assert.ok(r.stdout.includes(`node: ${process.version}`), r.stdout);
    assert.match(r.stdout, /^platform: linux /m);
    assert.match(r.stdout, /^transports: node(, native| \(native unavailable)/m);
  });

  test('--directives prints every directive of the validator, with its context, default and meaning', async () => {
    const r = await run(['--directives']);
    assert.equal(r.code, 0);
    const sections = r.stdout.split(/^# /m).slice(1);
    assert.deepEqual(
      sections.map((s) => s.split('\n')[0]),
      ['top level', 'server { }', 'location { }'],
    );
    const byContext = new Map(
      sections.map((s, i) => [['main', 'server', 'location'][i] ?? '', s.split('\n').slice(1).join('\n')]),
    );
    for (const d of directiveTable()) {
      const text = byContext.get(d.context) ?? '';
      const m = new RegExp(`^${d.name}\\b.*\\n    (.+) \\(default: ([^),]+)`, 'm').exec(text);
      assert.ok(m !== null, `${d.context} ${d.name} is listed with a meaning and a default:\n${text}`);
      assert.doesNotMatch(m[1] ?? '', /undocumented/);
    }
  });
});

describe('pid file and -s', () => {
  test('written at start, -s reload re-reads, -s reopen reopens logs, -s quit stops and removes it', async () => {
    const port = await freePort();
    const pid = path.join(tmp, 'run.pid');
    const log = path.join(tmp, 'access.log');
    const file = writeConf('pid.conf', port, `pid ${pid}`, `access_log ${log}`);
    const s = await start([file]);
    try {
      assert.equal(fs.readFileSync(pid, 'utf8'), `${s.proc.pid}\n`);
      assert.equal((await get(port, '/')).status, 200);
      // reload: the new configuration answers (a server_name that 404s nothing, but a new location does).
      fs.writeFileSync(
        file,
        fs
          .readFileSync(file, 'utf8')
          .replace('  location / {', `  location /moved {\n    redirect /\n  }\n  location / {`),
      );
      assert.equal((await get(port, '/moved')).status, 404);
      const rl = await run(['-s', 'reload', '-c', file]);
      assert.equal(rl.code, 0, rl.stderr);
      assert.match(rl.stdout, new RegExp(`sent SIGHUP to process ${s.proc.pid}`));
      await until(() => /^reloaded$/m.test(s.out()), 'the reload');
      assert.equal((await get(port, '/moved')).status, 301);
      // reopen: the log renamed away, a new one appears at the path after the signal.
      await until(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('GET /moved'), 'the log line');
      fs.renameSync(log, `${log}.1`);
      const ro = await run(['-s', 'reopen', file]);
      assert.equal(ro.code, 0, ro.stderr);
      await until(() => fs.existsSync(log), 'the reopened log');
      assert.equal((await get(port, '/after-reopen')).status, 404);
      await until(() => fs.readFileSync(log, 'utf8').includes('/after-reopen'), 'a line in the new log');
      assert.ok(!fs.readFileSync(`${log}.1`, 'utf8').includes('/after-reopen'));
      // quit: graceful exit 0, the pid file goes with the process.
      const q = await run(['-s', 'quit', file]);
      assert.equal(q.code, 0, q.stderr);
      assert.equal(await s.exited, 0);
      assert.match(s.out(), /SIGQUIT: shutting down/);
      assert.equal(fs.existsSync(pid), false, 'pid file removed at exit');
      // -s now: no instance.
      const none = await run(['-s', 'stop', file]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /does not exist: no instance is running/);
    } finally {
      s.proc.kill('SIGKILL');
    }
  });

  test('-s stop through a pid named by -g; a second instance is refused while the first runs', async () => {
    const port = await freePort();
    const pid = path.join(tmp, 'g.pid');
    const file = writeConf('g.conf', port);
    const g = `pid ${pid};`;
    const s = await start(['-g', g, file]);
    try {
      assert.equal(fs.readFileSync(pid, 'utf8').trim(), String(s.proc.pid));
      const second = await run(['-g', g, writeConf('g2.conf', await freePort())]);
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`another instance is running \\(pid ${s.proc.pid}\\)`));
      assert.equal(fs.readFileSync(pid, 'utf8').trim(), String(s.proc.pid), 'the first keeps its pid file');
      const noPid = await run(['-s', 'stop', file]);
      assert.equal(noPid.code, 1);
      assert.match(noPid.stderr, /no "pid" directive/);
      const stop = await run(['-s', 'stop', '-g', g, file]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await s.exited, 0);
      assert.match(s.out(), /SIGTERM: shutting down/);
      assert.equal(fs.existsSync(pid), false);
    } finally {
      s.proc.kill('SIGKILL');
    }
  });

  test('a stale pid file (a dead process) is detected by -s and replaced at start', async () => {
    const port = await freePort();
    const pid = path.join(tmp, 'stale.pid');
    // A pid that surely ran and is gone: a child that has exited.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('close', r));
    fs.writeFileSync(pid, `${dead.pid}\n`);
    const file = writeConf('stale.conf', port, `pid ${pid}`);
    const sig = await run(['-s', 'reload', file]);
    assert.equal(sig.code, 1);
    assert.match(sig.stderr, /is stale \(process \d+ is not a running localhost\)/);
    const s = await start([file]);
    try {
      assert.equal(fs.readFileSync(pid, 'utf8'), `${s.proc.pid}\n`);
      await until(() => /replaced a stale pid file/.test(s.out()), 'the stale-file notice');
    } finally {
      s.proc.kill('SIGTERM');
      await s.exited;
    }
    assert.equal(fs.existsSync(pid), false);
  });

  test('-g: a syntax error names (-g), a repeat of a file directive is a duplicate', async () => {
    const file = writeConf('gdup.conf', await freePort(), `pid ${tmp}/x.pid`);
    const bad = await run(['-t', '-g', 'pid "unterminated', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^\(-g\):1:5: unterminated quoted string/m);
    const dup = await run(['-t', '-g', `pid ${tmp}/y.pid;`, file]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^\(-g\):1:1: duplicate "pid" directive/m);
  });
});
