/**
 * `status on` locations: the server's counters as plain text, in NGINX stub_status's layout.
 */
import { bytesResponse } from '../http/response.js';
import type { Exchange } from './exchange.js';
import { currentCounters } from '../server/counters.js';
import { workerIdentity } from '../server/workers/identity.js';

/** Answers with active/reading/writing/waiting connections, accepts, handled, requests and uptime. */
export function serveStatus(ex: Exchange, _target: null): null {
  const c = currentCounters();
  const uptime = Math.floor((Date.now() - c.startedAt) / 1000);
  const text =
    `Active connections: ${c.active}\n` +
    `server accepts handled requests\n ${c.accepted} ${c.handled} ${c.requests}\n` +
    `Reading: ${c.reading} Writing: ${c.writing} Waiting: ${c.waiting}\n` +
    `Uptime: ${uptime}\n` +
    workerLines();
  ex.respond(bytesResponse(200, 'text/plain; charset=utf-8', Buffer.from(text), 'Cache-Control: no-cache\r\n'));
  return null;
}

/**
 * Under `worker_processes N`, the lines above are this worker's own; these say which worker answered and add the
 * sums over all workers, from the reports the master gathers once a second (so they lag by up to 2 s).
 */
function workerLines(): string {
  const w = workerIdentity();
  if (w === null) return '';
  let text = `Worker: ${w.slot.index + 1} of ${w.slot.count}, pid ${process.pid}\n`;
  const t = w.totals;
  if (t !== null) {
    const c = t.counters;
    text +=
      `All workers (${t.workers}): active ${c.active}, accepts ${c.accepted}, handled ${c.handled}, ` +
      `requests ${c.requests}, reading ${c.reading}, writing ${c.writing}, waiting ${c.waiting}\n`;
  }
  return text;
}
