/**
 * Runs a bench/ script from a test: the scripts print progress, then `RESULT {json}`, then PASS or FAIL.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { MAIN, REPO } from './server.js';

export interface Check {
  readonly ok: boolean;
  readonly what: string;
}

/** The RESULT line of a bench script, with its script-specific figures. */
export interface BenchResult<F> {
  readonly name: string;
  readonly ok: boolean;
  readonly figures: F;
  readonly checks: readonly Check[];
}

export interface BenchRun<F> {
  readonly code: number | null;
  readonly out: string;
  readonly result: BenchResult<F> | null;
}

/** Runs bench/`script` against the test build to completion (SIGTERM after `limitMs`). */
export function runBench<F>(script: string, args: readonly string[], limitMs: number): Promise<BenchRun<F>> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(REPO, 'bench', script), '--main', MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGTERM'), limitMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ code, out, result: line === undefined ? null : (JSON.parse(line.slice(7)) as BenchResult<F>) });
    });
  });
}

/** Reports the script's output as diagnostics, asserts it printed a RESULT with no failed check, returns its figures. */
export function passedFigures<F>(t: TestContext, r: BenchRun<F>): F {
  for (const l of r.out.split('\n')) if (l !== '' && !l.startsWith('RESULT ')) t.diagnostic(l);
  assert.ok(r.result !== null, `no RESULT line:\n${r.out}`);
  assert.deepEqual(
    r.result.checks.filter((c) => !c.ok).map((c) => c.what),
    [],
  );
  return r.result.figures;
}
