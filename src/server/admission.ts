/**
 * Which server block a request head reaches on its connection, or the error it gets instead: the checks that
 * come before a request exists (docs/ARCHITECTURE.md "The connection").
 */
import type { ServerConfig } from '../config/types.js';
import type { RequestHead } from '../http/request.js';
import type { VHostGroup } from '../router/vhost.js';
import type { Transport } from './transport.js';

/** The server for the request, or the status, log reason and page detail to fail it with. */
export type Admission =
  | { readonly ok: true; readonly server: ServerConfig }
  | { readonly ok: false; readonly status: number; readonly reason: string; readonly detail?: string };

/** Picks the server block for `head` among `group` (null: no server listens on this address). */
export function admit(transport: Transport, group: VHostGroup | null, head: RequestHead): Admission {
  if (transport.plainOnTls) {
    // nginx's 497: a plain request to a TLS port is answered in plain text, once, with a hint.
    const detail = 'The plain HTTP request was sent to HTTPS port';
    return { ok: false, status: 400, reason: 'plain HTTP request on a TLS port', detail };
  }
  const server = group?.select(head.host) ?? null;
  if (server === null) return { ok: false, status: 421, reason: 'no server for this address' };
  // The certificate was chosen by the TLS server name: a Host naming another server block is misdirected
  // (RFC 9110 §15.5.20), or a client could reach one site under the other's certificate.
  const sni = transport.serverName;
  if (sni !== null && group?.select(sni) !== server) {
    return {
      ok: false,
      status: 421,
      reason: `TLS server name "${sni}" and Host "${head.host}" name different servers`,
    };
  }
  return { ok: true, server };
}
