/**
 * Descriptor exhaustion (bench/fd-exhaustion.mjs): the server under `ulimit -n 256` receives 400 connections, a GET
 * on each, then a new connection every 100 ms for 3 s. It must log EMFILE, not crash, not spin (< 20 % of one core
 * over those 3 s), serve a 200 within 2 s of the connections closing, and return to its descriptor count.
 * The same bound runs in `npm run stress`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passedFigures, runBench } from '../helpers/bench-script.js';

interface Figures {
  readonly nofile: number;
  readonly fdsBefore: number;
  readonly fdsAtPeak: number;
  readonly cpuPct: number;
  readonly emfileLines: readonly string[];
  readonly recoveredMs: number;
  readonly fdsAfter: number;
}

test(
  'ulimit -n 256 and 400 connections: EMFILE logged, no crash, no spin, serving again within 2 s',
  { timeout: 90_000 },
  async (t) => {
    const r = await runBench<Figures>('fd-exhaustion.mjs', ['--nofile', '256', '--conns', '400'], 80_000);
    const f = passedFigures(t, r);
    assert.equal(f.nofile, 256);
    // The limit was reached: the server held as many descriptors as it may.
    assert.equal(f.fdsAtPeak, 256);
    assert.ok(f.emfileLines.length > 0, 'no EMFILE line in the server log');
    assert.ok(f.cpuPct < 20, `CPU ${f.cpuPct} %`);
    assert.ok(f.recoveredMs <= 2000, `recovered after ${f.recoveredMs} ms`);
    assert.ok(Math.abs(f.fdsAfter - f.fdsBefore) <= 2, `fds ${f.fdsBefore} → ${f.fdsAfter}`);
    assert.equal(r.code, 0, r.out);
  },
);
