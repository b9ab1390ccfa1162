/**
 * A script's session headers (docs/ARCHITECTURE.md "Sessions"), for CGI and FastCGI alike: `X-Session-Data`
 * stores new data, `X-Session-End: 1` ends the session. Neither is forwarded to the client.
 */
import type { Exchange } from '../exchange.js';
import type { CgiHead } from './headers.js';

/** Applies the head's session headers where the location has sessions, then `then(ok)` once the store has them
 *  (at once in memory; after Redis answered otherwise; ok false: it did not, answer 503). `log` gets a refused store. */
export function applySessionHeaders(
  ex: Exchange,
  h: CgiHead,
  log: (message: string) => void,
  then: (ok: boolean) => void,
): void {
  if (ex.session() === null) {
    then(true);
    return;
  }
  if (h.sessionEnd) ex.endSession();
  else if (h.sessionData !== null && !ex.setSessionData(h.sessionData))
    log('X-Session-Data over the size cap: not stored');
  ex.commitSession(then);
}
