/**
 * Slow clients (bench/slow-clients.mjs, short bound): 300 connections each dripping a head byte every 2 s against
 * `client_header_timeout 3s`. A normal client's 200 sequential GETs meanwhile answer 200 with p99 < 50 ms; every
 * slow connection gets a 408 and the server's FIN within 3 + 2 s; the server's descriptors come back afterwards.
 * `npm run stress` runs 2,000 connections against a 5 s timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passedFigures, runBench } from '../helpers/bench-script.js';

interface Figures {
  readonly conns: number;
  readonly closeMs: { readonly min: number; readonly p50: number; readonly max: number; readonly late: number };
  readonly got408: number;
  readonly normal: {
    readonly gets: number;
    readonly ok: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
  };
}

test(
  '300 slow-header connections: a normal client keeps p99 < 50 ms; all get 408 and are closed within 3 + 2 s',
  { timeout: 90_000 },
  async (t) => {
    const r = await runBench<Figures>('slow-clients.mjs', ['--conns', '300', '--timeout', '3'], 80_000);
    const f = passedFigures(t, r);
    assert.equal(f.conns, 300);
    assert.equal(f.normal.ok, 200);
    assert.ok(f.normal.p99Ms < 50, `p99 ${f.normal.p99Ms} ms`);
    assert.equal(f.got408, 300);
    assert.equal(f.closeMs.late, 0);
    assert.ok(f.closeMs.max <= 5000, `slowest close ${f.closeMs.max} ms`);
    // Not before the timeout either: the 408 is the header timeout's, not an early rejection.
    assert.ok(f.closeMs.min >= 3000 - 50, `earliest close ${f.closeMs.min} ms`);
    assert.equal(r.code, 0, r.out);
  },
);
