/**
 * `metrics on` locations: the server's metrics in the Prometheus text exposition format, version 0.0.4 (README
 * "Operating it"). Under `worker_processes`, the sums over all workers the master sent last (up to 2 s old).
 */
import { bytesResponse } from '../http/response.js';
import type { Exchange } from './exchange.js';
import { errorResponse } from './error-page.js';
import { renderSamples, snapshot } from '../server/metrics.js';
import { workerIdentity } from '../server/workers/identity.js';

/** The media type Prometheus asks for and parses as the text format (exposition formats, "Text-based format"). */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Answers with every metric family of this process, or of all workers. */
export function serveMetrics(ex: Exchange, _target: null): null {
  const w = workerIdentity();
  if (w !== null && w.totals === null) {
    // A worker that has not had the master's sums yet (they come with its start): its own counts alone would
    // look like a counter reset to Prometheus; a failed scrape is the honest answer.
    ex.respond(errorResponse(ex.server, 503, { headers: 'Retry-After: 1\r\n' }));
    return null;
  }
  const samples = w?.totals?.metrics ?? snapshot();
  ex.respond(bytesResponse(200, CONTENT_TYPE, Buffer.from(renderSamples(samples)), 'Cache-Control: no-cache\r\n'));
  return null;
}
