/**
 * Which certificate a TLS connection gets (docs/ARCHITECTURE.md "TLS"): on an address shared by several TLS
 * server blocks, the name the client sent in its ClientHello (SNI, RFC 6066 §3) picks the block whose
 * server_name it is; an unknown or missing name gets the address's first server (or its `default_server`).
 * One TlsSites per loaded configuration, so a reload's new certificates reach new connections only.
 */
import type { SecureContext } from 'node:tls';
import type { VHostGroup } from '../router/vhost.js';

/** The contexts of one address: the default, and the SNI callback node:tls calls with the client's name. */
export interface TlsChoice {
  readonly context: SecureContext;
  readonly sni: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

/** The TLS choices of a configuration, one per virtual-host group, made on first use. */
export class TlsSites {
  private readonly byGroup = new WeakMap<VHostGroup, TlsChoice | null>();

  /** The choice for connections reaching `group`; null when none of its servers has a certificate. */
  forGroup(group: VHostGroup | null): TlsChoice | null {
    if (group === null) return null;
    let choice = this.byGroup.get(group);
    if (choice === undefined) {
      const fallback = group.first.tls ?? group.servers.find((s) => s.tls !== null)?.tls ?? null;
      choice =
        fallback === null
          ? null
          : {
              context: fallback.context,
              sni: (name, cb) => {
                cb(null, (group.named(name.toLowerCase())?.tls ?? fallback).context);
              },
            };
      this.byGroup.set(group, choice);
    }
    return choice;
  }
}
