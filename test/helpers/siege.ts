/**
 * siege from a test: a private rc (no ~/.siege, JSON report, no abort however many failures), run for a bounded
 * time, with its report parsed, and watched as bench/lib.mjs's runSiege is: siege 4.0.7 sometimes never exits
 * after a timed run (JoeDog/siege#66; seen in CI after a worker was killed under it). A run still going 9 s past
 * its time has the server's sockets looked at and is killed at 10 s; `retryHungSiege` runs a scenario once more
 * when that hang left no request unread by the server, and fails it otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

/** The fields of siege's JSON report the tests read. */
export interface SiegeReport {
  readonly transactions: number;
  readonly availability: number;
  readonly successful_transactions: number;
  readonly failed_transactions: number;
  readonly transaction_rate: number;
}

/** A running siege; `done` resolves with its report and its error lines. */
export interface Siege {
  readonly done: Promise<{ report: SiegeReport; alerts: string[]; out: string }>;
}

/** Starts `siege -b -c CONC -t SECONDS S URL...` with `connection` keep-alive or close. */
export function siege(
  dir: string,
  urls: readonly string[],
  opts: {
    concurrency: number;
    seconds: number;
    connection?: 'keep-alive' | 'close';
    /** SIGKILL siege this long after its start (default: its time + 10 s). */
    killAfterSeconds?: number;
  },
): Siege {
  const killAfterMs = (opts.killAfterSeconds ?? opts.seconds + 10) * 1000;
  const port = Number(new URL(urls[0] ?? 'http://127.0.0.1/').port);
  const home = path.join(dir, 'siege-home');
  fs.mkdirSync(home, { recursive: true });
  const rc = path.join(home, 'siegerc');
  fs.writeFileSync(
    rc,
    [
      'verbose = false',
      'json_output = true',
      'show-logfile = false',
      'logging = false',
      'parser = false',
      'protocol = HTTP/1.1',
      `connection = ${opts.connection ?? 'keep-alive'}`,
      'accept-encoding = identity',
      'chunked = true',
      'failures = 1000000',
      'timeout = 30',
      '',
    ].join('\n'),
  );
  let target: string[] = [...urls];
  if (urls.length > 1) {
    const file = path.join(home, 'urls.txt');
    fs.writeFileSync(file, urls.join('\n') + '\n');
    target = ['-f', file];
  }
  const proc = spawn(
    'siege',
    ['-R', rc, '--no-parser', '-b', '-c', String(opts.concurrency), '-t', `${opts.seconds}S`, ...target],
    { env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // How many server sockets held unread request bytes a second before the kill (-1: not looked at).
  let unread = -1;
  const look = setTimeout(() => (unread = unreadSockets(port)), killAfterMs - 1000);
  const killer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
  const done = new Promise<{ report: SiegeReport; alerts: string[]; out: string }>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      clearTimeout(look);
      clearTimeout(killer);
      if (signal === 'SIGKILL') {
        reject(new SiegeHang(unread, `${out}\n${err}`));
        return;
      }
      const start = out.indexOf('{');
      const end = out.lastIndexOf('}');
      const alerts = err.split('\n').filter((l) => /\[(error|alert|fatal)\]/i.test(l));
      try {
        resolve({ report: JSON.parse(out.slice(start, end + 1)) as SiegeReport, alerts, out: out + err });
      } catch {
        reject(new Error(`siege (exit ${code}) gave no JSON report:\n${out}\n${err}`));
      }
    });
  });
  return { done };
}

/** siege killed for running past its time; `unread` server sockets held request bytes the server had not read. */
export class SiegeHang extends Error {
  constructor(
    readonly unread: number,
    output: string,
  ) {
    super(`siege still running past its time, ${unread} server sockets with unread bytes:\n${output}`);
  }
}

/** Server-side established sockets on `port` whose receive queue holds bytes (ss's Recv-Q). */
function unreadSockets(port: number): number {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => Number(l.trim().split(/\s+/)[0] ?? 0) > 0).length;
}

/**
 * Runs `scenario` (which starts its own siege) once more when siege hung with no request unread by the server:
 * that is siege's bug, not the server's. A hang with unread requests, or a second hang, fails.
 */
export async function retryHungSiege<T>(t: TestContext, scenario: () => Promise<T>): Promise<T> {
  try {
    return await scenario();
  } catch (e) {
    if (!(e instanceof SiegeHang) || e.unread !== 0) throw e;
    t.diagnostic('siege hung after its run with no request unread by the server (JoeDog/siege#66); once more');
    return await scenario();
  }
}

/** Whether a command is on PATH (or in /usr/sbin). */
export function have(cmd: string): boolean {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/bin'];
  return dirs.some((d) => d !== '' && fs.existsSync(path.join(d, cmd)));
}
