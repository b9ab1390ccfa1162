// Long fuzzing run of the request-head parser and the chunked decoder (the generator and properties of
// test/unit/parser-fuzz.test.ts), for `npm run stress`.
//   node bench/fuzz-parser.mjs [N=5000000] [SEED=1] [--no-build]
// It compiles the current sources and tests into a temporary directory first (so it never fuzzes a stale
// build/), or with --no-build uses build/ as `npx tsc -p tsconfig.test.json` left it.
// N inputs in all (4/5 heads, 1/5 chunked bodies), in batches of 100,000 seeded SEED, SEED+1, ...: a failure
// prints the batch seed and case index; `FUZZ_SEED=<seed> node --test build/test/unit/parser-fuzz.test.js`
// replays that batch (its first cases are the same). Prints a FAIL line and exits 1 on a violation.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2).filter((a) => a !== '--no-build');
const noBuild = process.argv.includes('--no-build');
const N = Number(args[0] ?? 5_000_000);
const SEED = Number(args[1] ?? 1);
const BATCH = 100_000;
if (!Number.isSafeInteger(N) || N <= 0 || !Number.isSafeInteger(SEED)) {
  console.error('usage: node bench/fuzz-parser.mjs [N] [SEED] [--no-build]');
  process.exit(2);
}

const repo = fileURLToPath(new URL('..', import.meta.url));
let lib;
let tmp = null;
if (noBuild) {
  lib = join(repo, 'build/test/unit/parser-fuzz.test.js');
  if (!existsSync(lib)) {
    console.error('FAIL fuzz-parser: build/test is missing: run `npx tsc -p tsconfig.test.json` first');
    process.exit(2);
  }
} else {
  tmp = mkdtempSync(join(tmpdir(), 'localhost-fuzz-'));
  writeFileSync(join(tmp, 'package.json'), '{"type":"module"}\n'); // the output is ES modules
  console.log('fuzz-parser: compiling src and test into a temporary directory');
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json', '--outDir', join(tmp, 'build')], {
    cwd: repo,
    stdio: 'inherit',
  });
  lib = join(tmp, 'build/test/unit/parser-fuzz.test.js');
  if (!existsSync(lib)) {
    console.error(`FAIL fuzz-parser: compilation failed (tsc exit ${tsc.status})`);
    process.exit(2);
  }
}
process.on('exit', () => {
  if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
});

// Importing the test module must not register its tests.
process.env.FUZZ_PARSER_BENCH = '1';
const { fuzzHeads, fuzzChunked, newOutcomes } = await import(pathToFileURL(lib).href);

const heads = newOutcomes();
const chunked = newOutcomes();
const started = process.hrtime.bigint();
let done = 0;
let lastReport = Date.now();

/** @param {boolean} final */
function report(final) {
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = Math.round(done / secs);
  /** @type {(o: { errors: Map<number, number> }) => string} */
  const errs = (o) =>
    [...o.errors]
      .sort((a, b) => a[0] - b[0])
      .map(([s, c]) => `${s}:${c}`)
      .join(' ');
  console.log(
    `${final ? 'done' : 'progress'}: ${done.toLocaleString('en')} inputs in ${secs.toFixed(1)} s, ${rate.toLocaleString('en')} inputs/s\n` +
      `  heads:   ${heads.inputs} inputs, head ${heads.head}, incomplete ${heads.incomplete}, errors ${errs(heads)}\n` +
      `  chunked: ${chunked.inputs} inputs, done ${chunked.head}, incomplete ${chunked.incomplete}, errors ${errs(chunked)}`,
  );
}

try {
  for (let batch = 0; done < N; batch++) {
    const n = Math.min(BATCH, N - done);
    const nChunked = Math.floor(n / 5);
    fuzzHeads(n - nChunked, SEED + batch, heads);
    fuzzChunked(nChunked, SEED + batch, chunked);
    done += n;
    if (Date.now() - lastReport > 10_000) {
      report(false);
      lastReport = Date.now();
    }
  }
} catch (err) {
  report(false);
  const message = err instanceof Error ? err.message : String(err);
  console.log(`FAIL fuzz-parser: ${message.split('\n')[0]}`);
  console.error(message);
  process.exit(1);
}
report(true);
