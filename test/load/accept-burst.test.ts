/**
 * Connection bursts (bench/accept-burst.mjs): two clients open 18,000 connections between them at once (fewer when
 * this machine's descriptor limit is lower) and send nothing. Every connection a client believes open must be one
 * the server accepted; the rest must have been refused. And `listen ... backlog=N` reaches listen(2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { passedFigures, runBench } from '../helpers/bench-script.js';
import { startServer } from '../helpers/server.js';

interface Side {
  readonly total: number;
  readonly connected: number;
  readonly closed: number;
  readonly open: number;
  readonly accepted: number;
}

test('a burst of connections: each is accepted or refused, none left half-open', { timeout: 120_000 }, async (t) => {
  const r = await runBench<{ ours: Side }>('accept-burst.mjs', ['--wait', '10'], 110_000);
  const f = passedFigures(t, r);
  assert.ok(f.ours.total >= 5000, `only ${f.ours.total} connections: the descriptor limit is too low for a burst`);
  assert.equal(f.ours.open + f.ours.closed, f.ours.total);
  assert.ok(f.ours.open <= f.ours.accepted, `${f.ours.open} open but only ${f.ours.accepted} accepted`);
  assert.equal(r.code, 0, r.out);
});

test('listen backlog=N is the listen(2) backlog; the default is 4096 (capped by net.core.somaxconn)', async () => {
  const srv = await startServer({
    config: `server {\n  listen 127.0.0.1:{PORT} backlog=1234\n  listen 127.0.0.1:{PORT2}\n  location / {\n    root {DIR}\n  }\n}\n`,
  });
  try {
    // For a listening socket, ss shows the backlog in Send-Q.
    const backlogOf = (port: number): number => {
      const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
      return Number(line.split(/\s+/)[2]);
    };
    const somaxconn = Number(execFileSync('sysctl', ['-n', 'net.core.somaxconn'], { encoding: 'utf8' }).trim());
    assert.equal(backlogOf(srv.ports[0] ?? 0), Math.min(1234, somaxconn));
    assert.equal(backlogOf(srv.ports[1] ?? 0), Math.min(4096, somaxconn));
  } finally {
    await srv.stop();
  }
});
