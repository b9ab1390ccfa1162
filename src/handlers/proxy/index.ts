/**
 * The reverse proxy (`proxy_pass`, docs/ARCHITECTURE.md "Gateway"): the request goes to an upstream server over
 * HTTP/1.1, written here on an outbound connection from the exchange's dialer; the answer streams back.
 */
import type { ProxyConfig } from '../../config/proxy.js';
import type { BodyReceiver, Exchange } from '../exchange.js';
import { ProxyRun } from './run.js';
import { upstreamSetFor } from './upstreams.js';

/** Handles a request in a `proxy_pass` location. */
export function serveProxy(ex: Exchange, cfg: ProxyConfig): BodyReceiver | null {
  return new ProxyRun(ex, cfg, upstreamSetFor(cfg.upstream)).begin();
}
