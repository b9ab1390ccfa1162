/** CGI gateway: being written (placeholder so the engine compiles). */
import type { LocationConfig } from '../config/types.js';
import { errorResponse } from './error-page.js';
import type { BodyReceiver, Exchange } from './exchange.js';

export interface CgiScript {
  readonly file: string;
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly interpreter: string;
}

export function findScript(_loc: LocationConfig, _root: string, _path: string): CgiScript | null {
  return null;
}

export function serveCgi(ex: Exchange, _script: CgiScript): BodyReceiver | null {
  ex.respond(errorResponse(ex.server, 501));
  return null;
}
