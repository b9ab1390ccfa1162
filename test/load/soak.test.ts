/**
 * Soak (bench/soak.mjs, short bound): 100,000 keep-alive GETs over the feature mix (static page, 404, listing, and
 * 1 % CGI). RSS sampled every 10,000 requests must plateau (last sample at most 15 % above the one at 30 %);
 * descriptors before and after within ±2, no child process left, no answer other than the intended 200s and 404s.
 * The server runs with V8's young generation pinned at its starting size (--max-semi-space-size=1): a fresh Node
 * grows it over the first few thousand CGI runs, which a 100k run would sample instead of a leak (bench/lib.mjs,
 * nodeFlagsOf). `npm run stress` runs 1,000,000 with Node's defaults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passedFigures, runBench } from '../helpers/bench-script.js';

interface Snapshot {
  readonly rssKiB: number;
  readonly fds: number;
  readonly children: number;
}
interface Figures {
  readonly requests: number;
  readonly counts: Record<string, Record<string, number>>;
  readonly before: Snapshot;
  readonly after: Snapshot;
  readonly curve: ReadonlyArray<{ readonly requests: number; readonly rssKiB: number }>;
}

test(
  '100,000 keep-alive requests over the mix: RSS plateaus, no descriptor or child left, only intended statuses',
  { timeout: 150_000 },
  async (t) => {
    const r = await runBench<Figures>(
      'soak.mjs',
      ['--requests', '100000', '--node-flags', '--max-semi-space-size=1'],
      140_000,
    );
    const f = passedFigures(t, r);
    assert.equal(f.requests, 100_000);
    // Request i goes to CGI when i % 100 == 99, else to static / 404 / listing by i % 3.
    assert.deepEqual(f.counts['cgi'], { '200': 1000 });
    assert.deepEqual(Object.keys(f.counts['missing']!), ['404']);
    assert.deepEqual(Object.keys(f.counts['static']!), ['200']);
    assert.deepEqual(Object.keys(f.counts['listing']!), ['200']);
    assert.equal(f.curve.length, 10);
    assert.ok(
      f.curve[9]!.rssKiB <= f.curve[2]!.rssKiB * 1.15,
      `RSS ${f.curve[2]!.rssKiB} KiB at 30 % → ${f.curve[9]!.rssKiB} KiB at the end`,
    );
    assert.ok(Math.abs(f.after.fds - f.before.fds) <= 2, `fds ${f.before.fds} → ${f.after.fds}`);
    assert.equal(f.after.children, f.before.children);
    assert.equal(r.code, 0, r.out);
  },
);
