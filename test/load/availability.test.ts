/**
 * Availability under siege (bench/availability.mjs, short bound): two 10 s `siege -b -c 50` runs on `/` without a
 * restart, then two on a mix of a static page, a 404, a listing and a CGI page. Each run keeps availability
 * >= 99.5 %; RSS after run 2 is within 10 % (or 5 MiB) of RSS after run 1. The server runs with V8's young
 * generation pinned at its starting size (--max-semi-space-size=1) and its old generation capped
 * (--max-old-space-size=32), so that 10 s runs compare retained memory rather than V8 growing its heap before it
 * collects (bench/lib.mjs, nodeFlagsOf). `npm run stress` runs the full bound (60 s runs, Node's
 * defaults). Skipped when siege is missing (scripts/pretest.sh installs it).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { passedFigures, runBench } from '../helpers/bench-script.js';

interface SiegeRun {
  readonly transactions: number;
  readonly availability: number;
  readonly successful: number;
  readonly failed: number;
  readonly rssKiB: number;
}
interface Figures {
  readonly phases: Record<string, { readonly runs: readonly SiegeRun[]; readonly rssGrowthPct: number }>;
}

function hasSiege(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v siege'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const SKIP = hasSiege() ? false : 'siege is not installed (apt-get install siege)';

/** The young generation pinned, the old one capped: see the file's comment. */
const NODE_FLAGS = '--max-semi-space-size=1,--max-old-space-size=32';

async function phase(t: TestContext, name: 'plain' | 'mix'): Promise<void> {
  const args = ['--phases', name, '--time', '10S', '--rss-slack-mib', '5', '--node-flags', NODE_FLAGS];
  const r = await runBench<Figures>('availability.mjs', args, 110_000);
  const runs = passedFigures(t, r).phases[name]!.runs;
  assert.equal(runs.length, 2);
  for (const run of runs) {
    assert.ok(run.transactions > 0, `no transactions in ${JSON.stringify(run)}`);
    assert.ok(run.availability >= 99.5, `availability ${run.availability} %`);
  }
  const [a, b] = runs;
  assert.ok(b!.rssKiB <= Math.max(a!.rssKiB * 1.1, a!.rssKiB + 5 * 1024), `RSS ${a!.rssKiB} KiB → ${b!.rssKiB} KiB`);
  assert.equal(r.code, 0, r.out);
}

test(
  'siege -b -c 50 on / twice: availability >= 99.5 % each, RSS within 10 % (or 5 MiB)',
  { skip: SKIP, timeout: 120_000 },
  async (t) => {
    await phase(t, 'plain');
  },
);

test(
  'siege -b -c 50 on static + 404 + listing + CGI twice: availability >= 99.5 % each, RSS within 10 % (or 5 MiB)',
  { skip: SKIP, timeout: 120_000 },
  async (t) => {
    await phase(t, 'mix');
  },
);
