#!/usr/bin/env node
// Builds the native transport's addon (native/ → native/build/Release/localhost_native.node) with npm's own
// node-gyp. Run by `npm install` / `npm ci` (the "install" script) and by hand (`node scripts/build-native.mjs`).
//
// It never fails the install: when the addon cannot be built (not Linux, no C compiler, no node-gyp, no headers,
// a compile error) it prints ONE line saying the server will use the portable transport, keeps the compiler's
// output in native/build/build-native.log, and exits 0. LOCALHOST_NATIVE=0 skips the build on purpose.
//
// Headers are never downloaded (there may be no network): npm passes its `nodedir` setting to node-gyp through the
// environment; without one, the headers of the running Node's own installation prefix are used when present.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = path.join(ROOT, 'native');
const BUILD = path.join(NATIVE, 'build');
const ADDON = path.join(BUILD, 'Release', 'localhost_native.node');
const LOG = path.join(BUILD, 'build-native.log');
const FALLBACK = 'the server will use the portable transport (node:net)';

function fallback(reason) {
  console.log(`localhost: native addon not built (${reason}); ${FALLBACK}`);
  process.exit(0);
}

if (process.env.LOCALHOST_NATIVE === '0') fallback('LOCALHOST_NATIVE=0');
if (process.platform !== 'linux') fallback(`${process.platform} is not Linux`);

const cc = process.env.CC || 'cc';
const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
if (probe.error !== undefined || probe.status !== 0) fallback(`no C compiler (${cc})`);

/** npm's node-gyp: the lifecycle environment names it; else the copy that ships inside npm beside this Node. */
function findNodeGyp() {
  const named = process.env.npm_config_node_gyp;
  const candidates = [
    named,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c !== undefined && c !== '' && fs.existsSync(c)) return c;
  return null;
}

const gyp = findNodeGyp();
if (gyp === null) fallback('node-gyp not found');

const args = [gyp, 'rebuild'];
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  // A Node installed from a distribution package or tarball carries its headers under its prefix.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
}

const started = Date.now();
const r = spawnSync(process.execPath, args, {
  cwd: NATIVE,
  env,
  encoding: 'utf8',
  timeout: 300_000,
  maxBuffer: 16 << 20,
});
const output = `$ ${process.execPath} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) + '\n' : ''}`;
try {
  fs.mkdirSync(BUILD, { recursive: true });
  fs.writeFileSync(LOG, output);
} catch {
  // the log is a courtesy; the result line below is what matters
}
if (r.error !== undefined || r.status !== 0 || !fs.existsSync(ADDON)) {
  const why = r.error !== undefined ? String(r.error.message) : `node-gyp exited with ${r.status ?? r.signal}`;
  fallback(`${why}; see ${path.relative(ROOT, LOG)}`);
}
console.log(
  `localhost: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.relative(ROOT, ADDON)})`,
);
