/**
 * FastCGI (`fastcgi_pass`, docs/ARCHITECTURE.md "Gateway"): the request goes to a FastCGI application server
 * (php-fpm) over the protocol written in protocol.ts, on an outbound connection from the exchange's dialer; its
 * output is a CGI response, streamed back as the CGI gateway's is.
 */
import type * as fs from 'node:fs';
import { fsErrorResponse, refuseUnconfined } from '../confine.js';
import { errorResponse } from '../error-page.js';
import type { BodyReceiver, Exchange } from '../exchange.js';
import { upstreamSetFor } from '../proxy/upstreams.js';
import { statCached } from '../stat-cache.js';
import type { FastcgiTarget } from './params.js';
import { FastcgiRun } from './run.js';

export type { FastcgiTarget } from './params.js';

/** Scripts that passed refuseUnconfined, by their stat-cache entry: the policy and root they passed under. */
const confined = new WeakMap<fs.Stats, string>();

/**
 * Handles a request in a `fastcgi_pass` location. Unless a `fastcgi_param SCRIPT_FILENAME` says otherwise, the
 * script must be a readable file inside the root (404/403 here, not php-fpm's "File not found."): a path that
 * names no script never reaches the application server (nginx leaves this to `try_files $uri =404`).
 */
export function serveFastcgi(ex: Exchange, target: FastcgiTarget): BodyReceiver | null {
  if (!target.cfg.params.some((p) => p.name === 'SCRIPT_FILENAME')) {
    let st: fs.Stats | undefined;
    try {
      st = statCached(target.file, target.root); // a hot script costs no stat(2), as a static file does not
    } catch (err) {
      ex.respond(fsErrorResponse(ex, 'stat', target.file, err));
      return null;
    }
    if (st === undefined || !st.isFile()) {
      ex.respond(errorResponse(ex.server, st?.isDirectory() === true ? 403 : 404));
      return null;
    }
    // The stat cache hands out the same Stats while nothing on the path changed (inotify), so a script found
    // inside its root under this policy stays so: realpath(3) once, not per request (as the static cache does).
    const key = `${ex.location?.symlinks ?? 'inside-root'}\0${target.root}`;
    if (confined.get(st) !== key) {
      const refused = refuseUnconfined(ex, target.root, target.file);
      if (refused !== null) {
        ex.respond(refused);
        return null;
      }
      confined.set(st, key);
    }
  }
  return new FastcgiRun(ex, target, upstreamSetFor(target.cfg.upstream)).begin();
}
