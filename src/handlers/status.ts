/**
 * `status on` locations: the server's counters as plain text, in NGINX stub_status's layout.
 */
import { bytesResponse } from '../http/response.js';
import type { Exchange } from './exchange.js';
import { currentCounters } from '../server/counters.js';

/** Answers with active/reading/writing/waiting connections, accepts, handled, requests and uptime. */
export function serveStatus(ex: Exchange): null {
  const c = currentCounters();
  const uptime = Math.floor((Date.now() - c.startedAt) / 1000);
  const text =
    `Active connections: ${c.active}\n` +
    `server accepts handled requests\n ${c.accepted} ${c.handled} ${c.requests}\n` +
    `Reading: ${c.reading} Writing: ${c.writing} Waiting: ${c.waiting}\n` +
    `Uptime: ${uptime}\n`;
  ex.respond(bytesResponse(200, 'text/plain; charset=utf-8', Buffer.from(text), 'Cache-Control: no-cache\r\n'));
  return null;
}
