/**
 * What the master and its workers tell each other (docs/ARCHITECTURE.md "Worker processes"): the environment a
 * worker starts with (its slot, and which inherited descriptor is which listening socket) and the messages on the
 * IPC channel. Pure: both sides and the unit tests share it.
 */
import type { BindSpec } from '../listeners.js';
import type { Sample } from '../metrics.js';

/** The worker's slot, "INDEX/COUNT" (0-based); its presence makes the process a worker. */
export const WORKER_ENV = 'LOCALHOST_WORKER';
/** JSON list of InheritedSocket: the listening sockets the worker finds in its descriptor table. */
export const SOCKETS_ENV = 'LOCALHOST_LISTEN_FDS';
/** The first descriptor carrying a listening socket in a worker: 0-2 are stdio, 3 the IPC channel. */
export const FIRST_SOCKET_FD = 4;

/** One socket the configuration asks for: where the worker has it, or why the master could not bind it. */
export type InheritedSocket =
  { readonly key: string; readonly fd: number } | { readonly key: string; readonly error: string };

/** The identity of a socket across the master and its workers: address, port and IPV6_V6ONLY. */
export function socketKey(spec: Pick<BindSpec, 'host' | 'port' | 'ipv6Only'>): string {
  return `${spec.host}|${spec.port}|${spec.ipv6Only ? 6 : ''}`;
}

/** A worker's place among its generation. */
export interface WorkerSlot {
  readonly index: number;
  readonly count: number;
}

/** Parses WORKER_ENV; null when absent or malformed (then the process is not a worker). */
export function parseSlot(text: string | undefined): WorkerSlot | null {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text ?? '');
  if (m === null) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index < count ? { index, count } : null;
}

/** Parses SOCKETS_ENV; an error string when it is not what the master writes. */
export function parseSockets(text: string | undefined): InheritedSocket[] | string {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    return `${SOCKETS_ENV} is not JSON`;
  }
  if (!Array.isArray(value)) return `${SOCKETS_ENV} is not a list`;
  const out: InheritedSocket[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return `${SOCKETS_ENV}: an entry is not an object`;
    const rec = item as Record<string, unknown>;
    const key = rec['key'];
    const fd = rec['fd'];
    const error = rec['error'];
    if (typeof key !== 'string') return `${SOCKETS_ENV}: an entry has no key`;
    if (typeof fd === 'number' && Number.isSafeInteger(fd) && fd >= FIRST_SOCKET_FD) out.push({ key, fd });
    else if (typeof error === 'string') out.push({ key, error });
    else return `${SOCKETS_ENV}: entry ${key} has neither a descriptor nor an error`;
  }
  return out;
}

/** The counters a worker reports to the master, once a second, for the sums on every worker's status page. */
export interface CounterReport {
  readonly accepted: number;
  readonly handled: number;
  readonly requests: number;
  readonly active: number;
  readonly reading: number;
  readonly writing: number;
  readonly waiting: number;
}

/** Worker → master. */
export type WorkerMessage =
  | {
      readonly type: 'ready';
      /** The start-up lines ("listening on ...") and the skipped-server lines, for the master to print once. */
      readonly lines: readonly string[];
      readonly skipped: readonly string[];
    }
  | {
      readonly type: 'counters';
      readonly counters: CounterReport;
      /** The worker's metric samples (server/metrics.ts). */
      readonly metrics: readonly Sample[];
    }
  /** Stopping: the worker accepts no more (its listeners are closed); it finishes what it has. */
  | { readonly type: 'closed' };

/** Master → worker: the sums over the running workers, from their latest reports. */
export interface TotalsMessage {
  readonly type: 'totals';
  readonly workers: number;
  readonly counters: CounterReport;
  /** The workers' metric samples combined, those of exited workers' counters included. */
  readonly metrics: readonly Sample[];
}

const COUNTER_NAMES = ['accepted', 'handled', 'requests', 'active', 'reading', 'writing', 'waiting'] as const;

/** The counters in `value`, or null when it is not a CounterReport. */
function countersOf(value: unknown): CounterReport | null {
  if (typeof value !== 'object' || value === null) return null;
  const rec = value as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const n of COUNTER_NAMES) {
    const v = rec[n];
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    out[n] = v;
  }
  // Every name checked above.
  return out as unknown as CounterReport;
}

/** Most samples one message may carry (a few hundred per server block is the most a report holds). */
const MAX_SAMPLES = 100_000;

/** The metric samples in `value`, or null when it is not a list of them. */
function samplesOf(value: unknown): Sample[] | null {
  if (!Array.isArray(value) || value.length > MAX_SAMPLES) return null;
  const out: Sample[] = [];
  for (const item of value as unknown[]) {
    if (!Array.isArray(item) || item.length !== 4) return null;
    const tuple = item as unknown[];
    const [family, suffix, labels, v] = tuple;
    if (typeof family !== 'string' || typeof suffix !== 'string' || typeof labels !== 'string') return null;
    if (typeof v !== 'number' || Number.isNaN(v)) return null;
    out.push([family, suffix, labels, v]);
  }
  return out;
}

/** A message from a worker, or null when it is none of ours. */
export function parseWorkerMessage(value: unknown): WorkerMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const rec = value as Record<string, unknown>;
  if (rec['type'] === 'ready') {
    const lines = rec['lines'];
    const skipped = rec['skipped'];
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
    return strings(lines) && strings(skipped) ? { type: 'ready', lines, skipped } : null;
  }
  if (rec['type'] === 'closed') return { type: 'closed' };
  if (rec['type'] === 'counters') {
    const counters = countersOf(rec['counters']);
    const metrics = samplesOf(rec['metrics']);
    return counters === null || metrics === null ? null : { type: 'counters', counters, metrics };
  }
  return null;
}

/**
 * Master → worker: a reload replaced this worker's generation. It stops accepting and serves the connections it
 * has, keep-alive included, until each closes or idles out, for a bounded time (unlike SIGQUIT, which answers the
 * next request on an idle connection with `Connection: close`).
 */
export interface RetireMessage {
  readonly type: 'retire';
}

/** Whether `value` is the master's RetireMessage. */
export function isRetire(value: unknown): value is RetireMessage {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)['type'] === 'retire';
}

/** A message from the master, or null. */
export function parseTotals(value: unknown): TotalsMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const rec = value as Record<string, unknown>;
  const workers = rec['workers'];
  const counters = countersOf(rec['counters']);
  const metrics = samplesOf(rec['metrics']);
  if (rec['type'] !== 'totals' || typeof workers !== 'number' || counters === null || metrics === null) return null;
  return { type: 'totals', workers, counters, metrics };
}

/** The sum of several reports. */
export function sumCounters(reports: Iterable<CounterReport>): CounterReport {
  const sum = { accepted: 0, handled: 0, requests: 0, active: 0, reading: 0, writing: 0, waiting: 0 };
  for (const r of reports) for (const n of COUNTER_NAMES) sum[n] += r[n];
  return sum;
}

/** The next respawn delay of a slot whose worker died after `quickDeaths` deaths in a row within QUICK_DEATH_MS of
 *  their start: 100 ms, doubling, at most 10 s. */
export function respawnDelay(quickDeaths: number): number {
  return Math.min(10_000, 100 * 2 ** Math.min(quickDeaths, 10));
}

/** A worker that dies sooner than this after starting counts as a quick death (it backs off the next respawn). */
export const QUICK_DEATH_MS = 5_000;
