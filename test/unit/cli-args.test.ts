/**
 * The command line's grammar (src/cli/args.ts): which argument is a configuration and which a folder, nginx's
 * flags, and the usage errors (exit 2 in the CLI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, type ArgsEnv } from '../../src/cli/args.js';

const env = (dirs: string[] = ['www'], hasDefaultConfig = false): ArgsEnv => ({
  isDirectory: (p) => dirs.includes(p),
  hasDefaultConfig,
});

test('a positional directory is zero-config, a positional file is a configuration', () => {
  const dir = parseArgs(['www', '-p', '8090', '--listing', '--cgi', '.py=python3'], env());
  assert.ok(dir.ok && dir.value.kind === 'run');
  assert.deepEqual(dir.value.zero, {
    dir: 'www',
    port: 8090,
    address: null,
    spa: false,
    listing: true,
    upload: false,
    cgi: [['.py', 'python3']],
  });
  const file = parseArgs(['site.conf'], env());
  assert.ok(file.ok && file.value.kind === 'run');
  assert.equal(file.value.configFile, 'site.conf');
  assert.equal(file.value.zero, null);
});

test('no argument: ./config.conf when it exists, else the working directory', () => {
  const withConf = parseArgs([], env([], true));
  assert.ok(withConf.ok && withConf.value.kind === 'run' && withConf.value.configFile === 'config.conf');
  const without = parseArgs([], env([], false));
  assert.ok(without.ok && without.value.kind === 'run' && without.value.zero?.dir === '.');
  // A folder flag means folder mode even beside a config.conf.
  const flag = parseArgs(['--port=9000'], env([], true));
  assert.ok(flag.ok && flag.value.kind === 'run' && flag.value.zero?.port === 9000);
});

test("nginx's flags: -t, -T, -c, -s, -g (repeatable), -V", () => {
  const t = parseArgs(['-t', '-c', 'a.conf', '-g', 'pid x;', '-g', 'strict on;'], env());
  assert.ok(t.ok && t.value.kind === 'test');
  assert.equal(t.value.configFile, 'a.conf');
  assert.equal(t.value.globals, 'pid x;\nstrict on;');
  const T = parseArgs(['-t', '-T', 'a.conf'], env());
  assert.ok(T.ok && T.value.kind === 'dump');
  const s = parseArgs(['-s', 'reopen'], env([], true));
  assert.ok(s.ok && s.value.kind === 'signal' && s.value.signal === 'reopen');
  assert.deepEqual(parseArgs(['-V'], env()), { ok: true, value: { kind: 'build-info' } });
  assert.deepEqual(parseArgs(['--directives'], env()), { ok: true, value: { kind: 'directives' } });
});

test('usage errors', () => {
  const bad: [string[], RegExp][] = [
    [['-q'], /unknown option -q/],
    [['-s'], /-s needs a value/],
    [['-s', 'kill'], /bad signal/],
    [['-p', '0', 'www'], /bad port "0"/],
    [['-p', 'x'], /bad port/],
    [['--cgi', '.py'], /bad --cgi/],
    [['--cgi', '.a/b=sh'], /bad --cgi/],
    [['a.conf', 'b.conf'], /only one/],
    [['-c', 'a.conf', 'www'], /both name/],
    [['-c', 'a', '-c', 'b'], /twice/],
    [['--upload', 'a.conf'], /--upload serves a folder/],
    [['-T', '-s', 'stop'], /cannot be combined/],
    [['--listing=1'], /takes no value/],
    [['www', '--upload', '--cgi', '.py=python3'], /cannot share a folder/],
  ];
  for (const [argv, pattern] of bad) {
    const r = parseArgs(argv, env());
    assert.ok(!r.ok, argv.join(' '));
    assert.match(r.error, pattern, argv.join(' '));
  }
});
