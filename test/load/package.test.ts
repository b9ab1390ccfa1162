/**
 * The package as a user gets it (README "Install it as a command"): `npm pack` makes a tarball of the built server
 * and nothing else; `npm install -g TARBALL --omit=dev` into an empty prefix gives a `localhost` command that
 * serves a folder from any directory; `npx` from the tarball runs the same command. npm runs with its own empty
 * home and cache, so nothing of this machine's npm setup (or network) is involved: the package has no dependencies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { get } from '../helpers/http.js';
import { freePort, REPO } from '../helpers/server.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-pkg-'));
const prefix = path.join(tmp, 'prefix');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  HOME: path.join(tmp, 'home'),
  npm_config_cache: path.join(tmp, 'cache'),
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};
let tarball = '';

/** Runs npm with the isolated environment; throws with its output when it fails. */
function npm(args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(() => {
  fs.mkdirSync(env.HOME ?? '', { recursive: true });
  // dist/ is already built (npm ci ran `prepare`): the tarball is packed from it as it is.
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], REPO);
  const info: unknown = JSON.parse(packed.stdout);
  const name = Array.isArray(info) ? (info[0] as { filename?: unknown } | undefined)?.filename : undefined;
  assert.equal(typeof name, 'string', packed.stdout);
  tarball = path.join(tmp, String(name));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('npm pack: the built server, the addon sources and README; no tests, bench, docs or source maps', () => {
  const list = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.ok(list.includes('package/dist/main.js'), 'the entry point');
  assert.ok(list.includes('package/package.json') && list.includes('package/README.md'));
  assert.ok(list.includes('package/native/localhost_native.c') && list.includes('package/scripts/build-native.mjs'));
  const stray = list.filter(
    (f) => /^package\/(test|bench|docs|src|build|www|cgi-bin|uploads)\//.test(f) || /\.(map|png|ts)$/.test(f),
  );
  assert.deepEqual(stray, []);
});

test('npm install -g TARBALL --omit=dev: a localhost command that serves a folder from any directory', async () => {
  npm(['install', '-g', '--prefix', prefix, '--omit=dev', tarball], tmp);
  const installed = path.join(prefix, 'lib', 'node_modules', 'localhost-httpd');
  assert.ok(fs.existsSync(path.join(installed, 'dist', 'main.js')));
  assert.ok(!fs.existsSync(path.join(installed, 'node_modules')), 'no dependency of any kind installed');
  const site = path.join(tmp, 'site');
  fs.mkdirSync(site);
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>installed</h1>\n');
  const port = await freePort();
  const bin = path.join(prefix, 'bin', 'localhost');
  const proc = spawn(bin, [site, '-p', String(port)], { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 15_000);
      proc.stdout.on('data', () => {
        if (out.includes(`http://127.0.0.1:${port}/`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`exited ${String(code)}:\n${out}`)));
    });
    assert.match(out, /^transport: (native|node)/m);
    const r = await get(port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), '<h1>installed</h1>\n');
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
});

test('npx from the tarball runs the same command', () => {
  const r = npm(['exec', '--yes', '--package', tarball, '--', 'localhost', '--version'], tmp);
  const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(r.stdout.trim().split('\n')[0], `localhost/${version}`);
});
