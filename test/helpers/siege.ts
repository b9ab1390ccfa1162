/**
 * siege from a test: a private rc (no ~/.siege, JSON report, no abort however many failures), run for a bounded
 * time, with its report parsed. Like bench/lib.mjs's runSiege, without the hang diagnosis.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

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
    /** SIGKILL siege this long after its start (default: its time + 30 s, past its own socket timeout). */
    killAfterSeconds?: number;
  },
): Siege {
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
  const killer = setTimeout(() => proc.kill('SIGKILL'), (opts.killAfterSeconds ?? opts.seconds + 30) * 1000);
  const done = new Promise<{ report: SiegeReport; alerts: string[]; out: string }>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(killer);
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

/** Whether a command is on PATH (or in /usr/sbin). */
export function have(cmd: string): boolean {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/bin'];
  return dirs.some((d) => d !== '' && fs.existsSync(path.join(d, cmd)));
}
