/**
 * The process-wide metrics behind `metrics on` (README "Operating it"; docs/ARCHITECTURE.md "Logs and counters"):
 * requests by server, status class and method, a duration histogram, bytes, CGI runs and upstream attempts, kept
 * as numbers in typed arrays so that counting a request is a few increments (no string is built per request), and
 * rendered as Prometheus samples only when scraped. Under `worker_processes` each worker reports its samples to
 * the master, which sums them (server/workers/master.ts).
 */
import type { ServerConfig } from '../config/types.js';
import { packageInfo } from '../lib/package-info.js';
import { currentCounters } from './counters.js';

/** The method label's values: a bounded set (a client must not make series at will), anything else "other". */
export const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other'] as const;
const METHODS = METHOD_LABELS.length;
export const OTHER_METHOD = METHODS - 1;
const CLASS_LABELS = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Upper bounds of the duration histogram's buckets, in seconds (Prometheus client libraries' defaults, 5 ms to
 *  10 s); a last bucket counts what is above them all. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const BOUNDS = Float64Array.from(DURATION_BUCKETS);

/** The index of `method` in METHOD_LABELS. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'PATCH':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return OTHER_METHOD;
  }
}

/** The counts of one `server` label. */
export class ServerSlot {
  /** Requests by status class × method. */
  readonly requests = new Float64Array(CLASS_LABELS.length * METHODS);
  /** Durations per bucket, not cumulative; the last is above every bound. */
  readonly buckets = new Float64Array(BOUNDS.length + 1);
  durationSum = 0;
  /** `server="NAME"`, escaped once. */
  readonly labels: string;

  constructor(readonly name: string) {
    this.labels = `server="${escapeLabel(name)}"`;
  }
}

/** Why a CGI run failed. */
export type CgiFailure = 'spawn' | 'timeout' | 'header';

const slots = new Map<string, ServerSlot>();
const slotOfServer = new WeakMap<ServerConfig, ServerSlot>();
/** Requests answered without a server block (no server for the address). */
const NO_SERVER = new ServerSlot('-');

/** The counters that carry no label, or a fixed one. */
const totals = {
  bytesIn: 0,
  bytesOut: 0,
  cgiRuns: 0,
  cgiSpawn: 0,
  cgiTimeout: 0,
  cgiHeader: 0,
  upstreamAttempts: 0,
  upstreamFailures: 0,
};

/** What the metrics page asks of the rest of the server (set by HttpServer when it starts). */
interface Sources {
  transport: string;
  sessions: () => number;
}
const sources: Sources = { transport: 'unknown', sessions: () => 0 };

/** Tells the metrics which transport runs and how to count live sessions. */
export function setMetricSources(transport: string, sessions: () => number): void {
  sources.transport = transport;
  sources.sessions = sessions;
}

/** The label of a server: its first server_name, else its first listen address. */
function serverLabel(server: ServerConfig): string {
  const name = server.serverNames[0];
  if (name !== undefined && name !== '') return name;
  const l = server.listens[0];
  if (l === undefined) return '-';
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

/** The slot of `server`; servers with the same label (a reloaded block, one name on two ports) share it. */
export function slotOf(server: ServerConfig | undefined): ServerSlot {
  if (server === undefined) return NO_SERVER;
  let slot = slotOfServer.get(server);
  if (slot !== undefined) return slot;
  const name = serverLabel(server);
  slot = slots.get(name);
  if (slot === undefined) {
    slot = new ServerSlot(name);
    slots.set(name, slot);
  }
  slotOfServer.set(server, slot);
  return slot;
}

/** One response written: its status, the method's index, how long it took (seconds) and the bytes sent. */
export function countRequest(slot: ServerSlot, status: number, method: number, seconds: number, sent: number): void {
  const cls = status < 200 ? 0 : status >= 500 ? 4 : ((status / 100) | 0) - 1;
  const i = cls * METHODS + method;
  const r = slot.requests;
  r[i] = (r[i] ?? 0) + 1;
  let b = 0;
  while (b < BOUNDS.length && seconds > (BOUNDS[b] ?? Infinity)) b++;
  const k = slot.buckets;
  k[b] = (k[b] ?? 0) + 1;
  slot.durationSum += seconds;
  totals.bytesOut += sent;
}

/** Bytes read from a client. */
export function countBytesIn(n: number): void {
  totals.bytesIn += n;
}

/** A CGI script is started (or an attempt is made to). */
export function countCgiRun(): void {
  totals.cgiRuns++;
}

/** A CGI run failed: the script could not start, sent no header block in time, or a bad one. */
export function countCgiFailure(why: CgiFailure): void {
  if (why === 'spawn') totals.cgiSpawn++;
  else if (why === 'timeout') totals.cgiTimeout++;
  else totals.cgiHeader++;
}

/** A connection to an upstream is tried (a fresh or a pooled one). */
export function countUpstreamAttempt(): void {
  totals.upstreamAttempts++;
}

/** A proxied request failed: the client got an error page from us, or a response cut short. */
export function countUpstreamFailure(): void {
  totals.upstreamFailures++;
}

// ─── Samples ───────────────────────────────────────────────────────────────────────────────────────────────

/** One sample: family, series suffix (`_bucket`, `_sum`, `_count` or ""), labels as written, value. */
export type Sample = readonly [family: string, suffix: string, labels: string, value: number];

/** How a family's samples from several workers combine: added, or the largest (a build-info gauge of 1). */
type Combine = 'sum' | 'max';
interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly combine: Combine;
}

const P = 'localhost_';
/** A family of `type`; build_info's samples are combined by their largest value, all others added. */
function family(name: string, type: Family['type'], help: string): Family {
  return { name: P + name, type, help, combine: name === 'build_info' ? 'max' : 'sum' };
}

/** Every family, in the order they are written. */
export const FAMILIES: readonly Family[] = [
  family('http_requests_total', 'counter', 'Requests answered, by server, status class and method.'),
  family('http_request_duration_seconds', 'histogram', 'Time from the parsed request head to the written response.'),
  family('http_received_bytes_total', 'counter', 'Bytes read from clients.'),
  family('http_sent_bytes_total', 'counter', 'Bytes of responses written (heads and bodies).'),
  family('connections', 'gauge', 'Open client connections by state (stub_status reading, writing, waiting).'),
  family('connections_accepted_total', 'counter', 'Client connections accepted.'),
  family('connections_handled_total', 'counter', 'Client connections handled.'),
  family('cgi_runs_total', 'counter', 'CGI scripts started or attempted.'),
  family('cgi_failures_total', 'counter', 'CGI runs that failed: could not start, timed out, or sent no valid header.'),
  family('upstream_attempts_total', 'counter', 'Connections to proxy upstreams tried (fresh or pooled).'),
  family('upstream_failures_total', 'counter', 'Proxied requests that failed (an error answer or a cut response).'),
  family('sessions', 'gauge', 'Sessions held in the memory stores.'),
  family('build_info', 'gauge', 'Build facts as labels; the value is always 1.'),
];

/** The current values of this process, as samples (built only when scraped or reported). */
export function snapshot(): Sample[] {
  const out: Sample[] = [];
  const all = [...slots.values(), ...(hasCounts(NO_SERVER) ? [NO_SERVER] : [])];
  for (const s of all) {
    for (let c = 0; c < CLASS_LABELS.length; c++) {
      for (let m = 0; m < METHODS; m++) {
        const v = s.requests[c * METHODS + m] ?? 0;
        if (v > 0) {
          const labels = `${s.labels},code="${CLASS_LABELS[c] ?? ''}",method="${METHOD_LABELS[m] ?? ''}"`;
          out.push([`${P}http_requests_total`, '', labels, v]);
        }
      }
    }
  }
  const h = `${P}http_request_duration_seconds`;
  for (const s of all) {
    let cumulative = 0;
    for (let b = 0; b <= BOUNDS.length; b++) {
      cumulative += s.buckets[b] ?? 0;
      const le = b < BOUNDS.length ? String(BOUNDS[b]) : '+Inf';
      out.push([h, '_bucket', `${s.labels},le="${le}"`, cumulative]);
    }
    out.push([h, '_sum', s.labels, s.durationSum]);
    out.push([h, '_count', s.labels, cumulative]);
  }
  const c = currentCounters();
  const t = totals;
  out.push(
    [`${P}http_received_bytes_total`, '', '', t.bytesIn],
    [`${P}http_sent_bytes_total`, '', '', t.bytesOut],
    [`${P}connections`, '', 'state="reading"', c.reading],
    [`${P}connections`, '', 'state="writing"', c.writing],
    [`${P}connections`, '', 'state="waiting"', c.waiting],
    [`${P}connections_accepted_total`, '', '', c.accepted],
    [`${P}connections_handled_total`, '', '', c.handled],
    [`${P}cgi_runs_total`, '', '', t.cgiRuns],
    [`${P}cgi_failures_total`, '', 'reason="spawn"', t.cgiSpawn],
    [`${P}cgi_failures_total`, '', 'reason="timeout"', t.cgiTimeout],
    [`${P}cgi_failures_total`, '', 'reason="header"', t.cgiHeader],
    [`${P}upstream_attempts_total`, '', '', t.upstreamAttempts],
    [`${P}upstream_failures_total`, '', '', t.upstreamFailures],
    [`${P}sessions`, '', '', sources.sessions()],
    [`${P}build_info`, '', buildLabels(), 1],
  );
  return out;
}

function hasCounts(s: ServerSlot): boolean {
  return s.requests.some((v) => v > 0);
}

function buildLabels(): string {
  return `version="${escapeLabel(packageInfo().version)}",node="${escapeLabel(process.version)}",transport="${escapeLabel(sources.transport)}"`;
}

/**
 * Samples of several processes combined: each series (family, suffix, labels) added up, or its largest value for
 * a `max` family, in the order the series first appear.
 */
export function combineSamples(reports: Iterable<readonly Sample[]>): Sample[] {
  const combine = new Map(FAMILIES.map((f) => [f.name, f.combine]));
  const acc = new Map<string, [string, string, string, number]>();
  for (const report of reports) {
    for (const [family, suffix, labels, value] of report) {
      const key = `${family}${suffix}{${labels}`;
      const had = acc.get(key);
      if (had === undefined) acc.set(key, [family, suffix, labels, value]);
      else had[3] = combine.get(family) === 'max' ? Math.max(had[3], value) : had[3] + value;
    }
  }
  return [...acc.values()];
}

/** Whether a family only grows (counters and histograms): what a worker that exited keeps adding to the sums. */
export function cumulative(family: string): boolean {
  return FAMILIES.some((f) => f.name === family && f.type !== 'gauge');
}

/** The Prometheus text exposition format (version 0.0.4) of `samples`: each family's HELP and TYPE, then its
 *  samples; families with no sample are left out. */
export function renderSamples(samples: readonly Sample[]): string {
  const byFamily = new Map<string, string[]>();
  for (const [family, suffix, labels, value] of samples) {
    let lines = byFamily.get(family);
    if (lines === undefined) byFamily.set(family, (lines = []));
    lines.push(`${family}${suffix}${labels === '' ? '' : `{${labels}}`} ${formatValue(value)}\n`);
  }
  let text = '';
  for (const f of FAMILIES) {
    const lines = byFamily.get(f.name);
    if (lines === undefined) continue;
    text += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${lines.join('')}`;
  }
  return text;
}

/** A sample value: Go's ParseFloat reads JavaScript's number text, and the infinities as Prometheus writes them. */
function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A label value escaped as the exposition format says: backslash, double quote and line feed. */
function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
