/**
 * The states of a connection and the legal moves between them (docs/ARCHITECTURE.md "The connection"), with what
 * each state means for the stub_status counters and for the deadline. Pure: the connection calls enter() through
 * these, and tests check the table itself.
 *
 *   head ─▶ body ─▶ handling ─▶ writing ─▶ idle ─▶ head …
 *     │      │         ├─▶ tunnel ─┐ (101 Switching Protocols: raw bytes both ways)
 *     └──────┴─────────┴───────────┴──▶ closing ─▶ closed
 */
import type { Timeouts } from '../config/types.js';
import type { Counters } from './runtime.js';

/** The named states of a connection. */
export type ConnState = 'head' | 'body' | 'handling' | 'writing' | 'idle' | 'tunnel' | 'closing' | 'closed';

/** The legal moves; any other is a bug, logged, and the connection closed. */
export const TRANSITIONS: Readonly<Record<ConnState, readonly ConnState[]>> = {
  head: ['body', 'handling', 'writing', 'closed'],
  body: ['handling', 'writing', 'closed'],
  handling: ['writing', 'tunnel', 'closed'],
  writing: ['idle', 'head', 'closing', 'closed'],
  idle: ['head', 'closed'],
  // Out of HTTP after a 101 (RFC 9110 §7.8): nothing but the end follows.
  tunnel: ['closed'],
  closing: ['closed'],
  closed: [],
};

/** What can happen to a connection. */
export type ConnEvent =
  | { readonly kind: 'data'; readonly chunk: Buffer }
  | { readonly kind: 'end' | 'drain' | 'closed' }
  | { readonly kind: 'expire'; readonly now: number };

/** How long a closing connection may keep sending us bytes we discard (NGINX's lingering_time). */
export const LINGER_MS = 2000;

/** TRANSITIONS as sets: `legal()` runs several times per request. */
const LEGAL: ReadonlyMap<ConnState, ReadonlySet<ConnState>> = new Map(
  Object.entries(TRANSITIONS).map(([from, to]): [ConnState, ReadonlySet<ConnState>] => [
    from as ConnState,
    new Set(to),
  ]),
);

/** Whether `from → to` is a legal move. */
export function legal(from: ConnState, to: ConnState): boolean {
  return LEGAL.get(from)?.has(to) === true;
}

/** How long a connection may stay in `state` (ms; Infinity: handlers such as CGI bound their own time, and a
 *  tunnel's idle time is the proxy's proxy_read_timeout; send_timeout applies while a tunnel write waits). */
export function stateTimeout(state: ConnState, t: Timeouts): number {
  switch (state) {
    case 'head':
      return t.header;
    case 'body':
      return t.body;
    case 'writing':
      return t.send;
    case 'idle':
      return t.keepalive;
    case 'closing':
      return LINGER_MS;
    case 'handling':
    case 'tunnel':
    case 'closed':
      return Infinity;
  }
}

/** The stub_status counter a state counts in: reading (head, body), writing (handling, writing, tunnel: a request
 *  still in progress, as nginx counts an upgraded one), waiting (idle). */
function counterOf(state: ConnState): 'reading' | 'writing' | 'waiting' | null {
  if (state === 'head' || state === 'body') return 'reading';
  if (state === 'handling' || state === 'writing' || state === 'tunnel') return 'writing';
  return state === 'idle' ? 'waiting' : null;
}

/** Moves a connection's count from `from`'s counter to `to`'s. */
export function countMove(c: Counters, from: ConnState, to: ConnState): void {
  const a = counterOf(from);
  const b = counterOf(to);
  if (a === b) return; // writing → writing, head → body: no counter moves
  // Named stores, not c[a]--: this runs on every state change, and a keyed store on a variable name is slower.
  if (a === 'reading') c.reading--;
  else if (a === 'writing') c.writing--;
  else if (a === 'waiting') c.waiting--;
  if (b === 'reading') c.reading++;
  else if (b === 'writing') c.writing++;
  else if (b === 'waiting') c.waiting++;
}
