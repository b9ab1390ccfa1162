/**
 * Slow clients (bench/slow-clients.mjs, short bound): 300 connections each dripping a head byte every 2 s against
 * `client_header_timeout 3s`. A normal client's 200 sequential GETs meanwhile answer 200 with p99 < 50 ms; every
 * slow connection gets a 408 and the server's FIN within 3 + 2 s; the server's descriptors come back afterwards.
 * `npm run stress` runs 2,000 connections against a 5 s timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { MAIN, REPO } from '../helpers/server.js';

interface Check {
  readonly ok: boolean;
  readonly what: string;
}
interface Figures {
  readonly conns: number;
  readonly closeMs: { readonly min: number; readonly p50: number; readonly max: number; readonly late: number };
  readonly got408: number;
  readonly normal: { readonly gets: number; readonly ok: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
}
interface BenchResult {
  readonly name: string;
  readonly ok: boolean;
  readonly figures: Figures;
  readonly checks: readonly Check[];
}

/** Runs a bench script to completion (bounded: SIGTERM after `limitMs`); returns its exit code, output and RESULT. */
function runBench(script: string, args: readonly string[], limitMs: number): Promise<{ code: number | null; out: string; result: BenchResult | null }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(REPO, 'bench', script), '--main', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGTERM'), limitMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ code, out, result: line === undefined ? null : (JSON.parse(line.slice(7)) as BenchResult) });
    });
  });
}

test('300 slow-header connections: a normal client keeps p99 < 50 ms; all get 408 and are closed within 3 + 2 s', { timeout: 90_000 }, async (t) => {
  const r = await runBench('slow-clients.mjs', ['--conns', '300', '--timeout', '3'], 80_000);
  for (const l of r.out.split('\n')) if (l !== '' && !l.startsWith('RESULT ')) t.diagnostic(l);
  assert.ok(r.result !== null, `no RESULT line:\n${r.out}`);
  assert.deepEqual(r.result.checks.filter((c) => !c.ok).map((c) => c.what), []);
  const f = r.result.figures;
  assert.equal(f.conns, 300);
  assert.equal(f.normal.ok, 200);
  assert.ok(f.normal.p99Ms < 50, `p99 ${f.normal.p99Ms} ms`);
  assert.equal(f.got408, 300);
  assert.equal(f.closeMs.late, 0);
  assert.ok(f.closeMs.max <= 5000, `slowest close ${f.closeMs.max} ms`);
  // Not before the timeout either: the 408 is the header timeout's, not an early rejection.
  assert.ok(f.closeMs.min >= 3000 - 50, `earliest close ${f.closeMs.min} ms`);
  assert.equal(r.code, 0, r.out);
});
