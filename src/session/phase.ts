/**
 * The session phase (issue 21): in a `session on` location whose server keeps sessions in Redis, the handler starts
 * only once the client's session is loaded, so that handlers read it synchronously, as from memory. After the
 * access phase, as a handler's own work would be; Redis unreachable answers 503 here, and only here.
 */
import { wait, type Run } from '../access/gate.js';
import { errorResponse } from '../handlers/error-page.js';
import type { Exchange } from '../handlers/exchange.js';
import type { SessionBinding } from './binding.js';

/** `run` after the session `binding(ex)` names is loaded. */
export function afterSessionLoad(run: Run, binding: (ex: Exchange) => SessionBinding | null): Run {
  return (ex) => {
    const b = binding(ex);
    if (b === null) return run(ex);
    let settled: boolean | null = null;
    let go: ((pass: boolean) => void) | null = null;
    let cancelled = false;
    const settledNow = (): boolean | null => settled;
    const ready = b.load((ok) => {
      if (cancelled) return; // the client went while Redis answered
      if (!ok) ex.respond(errorResponse(ex.server, 503));
      if (go !== null) go(ok);
      else settled = ok;
    });
    if (ready) return run(ex);
    // The store may answer in this very turn (a client that knows Redis is down fails at once).
    const early = settledNow();
    if (early !== null) return early ? run(ex) : null;
    return wait(ex, run, (g) => {
      go = g;
      return () => {
        cancelled = true;
        go = null;
      };
    });
  };
}
