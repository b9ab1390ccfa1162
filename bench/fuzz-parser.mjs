// Long fuzzing run of the request-head parser and the chunked decoder (the generator and properties of
// test/unit/parser-fuzz.test.ts), for `npm run stress`. Needs the test build: `npx tsc -p tsconfig.test.json`.
//   node bench/fuzz-parser.mjs [N=5000000] [SEED=1]
// N inputs in all (4/5 heads, 1/5 chunked bodies), in batches of 100,000 seeded SEED, SEED+1, ...: a failure
// prints the batch seed and case index, which `FUZZ_SEED=<seed>`-style reruns reproduce. Exits 1 on a failure.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv[2] ?? 5_000_000);
const SEED = Number(process.argv[3] ?? 1);
const BATCH = 100_000;
if (!Number.isSafeInteger(N) || N <= 0 || !Number.isSafeInteger(SEED)) {
  console.error('usage: node bench/fuzz-parser.mjs [N] [SEED]');
  process.exit(2);
}

const lib = new URL('../build/test/unit/parser-fuzz.test.js', import.meta.url);
if (!existsSync(fileURLToPath(lib))) {
  console.error('fuzz-parser: build/test is missing: run `npx tsc -p tsconfig.test.json` first');
  process.exit(2);
}
// Importing the test module must not register its tests.
process.env.FUZZ_PARSER_BENCH = '1';
const { fuzzHeads, fuzzChunked, newOutcomes } = await import(lib.href);

const heads = newOutcomes();
const chunked = newOutcomes();
const started = process.hrtime.bigint();
let done = 0;
let lastReport = Date.now();

function report(final) {
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = Math.round(done / secs);
  const errs = (o) => [...o.errors].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}:${c}`).join(' ');
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
  console.error(`fuzz-parser: PROPERTY VIOLATED\n${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
report(true);
