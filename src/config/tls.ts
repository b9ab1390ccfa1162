/**
 * A server block's TLS settings (docs/ARCHITECTURE.md "TLS"): the `ssl_*` directives as written, then the
 * certificate and key read and checked against each other when the configuration is loaded (so a missing,
 * unreadable or mismatched pair skips its server with FILE:LINE:COL, and a reload reads the files again).
 */
import { constants as cryptoConstants, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { errnoCode } from '../lib/errno.js';
import { ConfigError } from './errors.js';
import type { ArgNode, DirectiveNode } from './parser.js';
import { DEFAULTS, type SourcePos, type TlsConfig, type TlsProtocol } from './types.js';

/** The ssl_* directives of one server block; paths already absolute. */
export interface TlsDraft {
  certificate: ArgNode | null;
  key: ArgNode | null;
  /** `ssl_protocols`: the versions named, in order; null when absent. */
  protocols: { readonly versions: TlsProtocol[]; readonly pos: SourcePos } | null;
  ciphers: ArgNode | null;
}

const PROTOCOLS: readonly TlsProtocol[] = ['TLSv1.2', 'TLSv1.3'];

/** `ssl_protocols TLSv1.2 TLSv1.3`: only these two; SSLv3, TLS 1.0 and 1.1 are refused (RFC 8996). */
export function parseProtocols(draft: TlsDraft, node: DirectiveNode, errors: ConfigError[]): void {
  const versions: TlsProtocol[] = [];
  for (const arg of node.args) {
    const v = PROTOCOLS.find((p) => p.toLowerCase() === arg.value.toLowerCase());
    if (v !== undefined) {
      if (!versions.includes(v)) versions.push(v);
      continue;
    }
    const old = /^(sslv[23]|tlsv1(\.[01])?)$/i.test(arg.value);
    const why = old ? ': TLS 1.0, 1.1 and SSL are insecure and not offered (RFC 8996)' : '';
    errors.push(new ConfigError(arg.pos, `bad ssl_protocols "${arg.value}"${why}; expected TLSv1.2 and/or TLSv1.3`));
  }
  const first = node.args[0];
  if (versions.length > 0 && first !== undefined) draft.protocols = { versions, pos: first.pos };
}

/** The PEM text of a file, or the reason it cannot be used. */
function readPem(arg: ArgNode, directive: string, errors: ConfigError[]): Buffer | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(arg.value);
  } catch (e) {
    errors.push(new ConfigError(arg.pos, `cannot read ${directive} ${arg.value}: ${errnoCode(e) || String(e)}`));
    return null;
  }
  if (!data.includes('-----BEGIN ')) {
    errors.push(new ConfigError(arg.pos, `${directive} ${arg.value} is not a PEM file (no "-----BEGIN" line)`));
    return null;
  }
  return data;
}

/** The text of an OpenSSL error, without its code prefix. */
const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/^error:[0-9A-F]+:/, '');

/**
 * Renegotiation refused outright, as nginx does (since 0.8.23, CVE-2009-3555): a client-initiated TLS 1.2
 * renegotiation makes the server do a full handshake's work for one record, a cheap DoS (testssl.sh reports it
 * HIGH). node:tls allows 3 per 10 minutes before it closes; OpenSSL's SSL_OP_NO_RENEGOTIATION answers each with a
 * no_renegotiation alert (RFC 5246 7.2.2). TLS 1.3 has no renegotiation.
 */
const SECURE_OPTIONS = cryptoConstants.SSL_OP_NO_RENEGOTIATION;

/**
 * Reads and checks the certificate and key of a server block: null when it has none (an error if `sslAt`, the
 * position of a `listen ... ssl`, says it needs one) or when something is wrong (reported to `errors`).
 */
export function loadTls(draft: TlsDraft, sslAt: SourcePos | null, errors: ConfigError[]): TlsConfig | null {
  const { certificate, key } = draft;
  if (certificate === null || key === null) {
    const given = certificate ?? key;
    if (given !== null) {
      const missing = certificate === null ? 'ssl_certificate' : 'ssl_certificate_key';
      errors.push(
        new ConfigError(given.pos, `missing "${missing}": a certificate needs its key and the other way round`),
      );
    } else if (sslAt !== null) {
      const detail = '"listen ... ssl" needs "ssl_certificate PATH" and "ssl_certificate_key PATH" in its server';
      errors.push(new ConfigError(sslAt, detail));
    }
    return null;
  }
  const cert = readPem(certificate, 'ssl_certificate', errors);
  const keyPem = readPem(key, 'ssl_certificate_key', errors);
  if (cert === null || keyPem === null) return null;
  const versions = draft.protocols?.versions ?? [DEFAULTS.tlsMinVersion, DEFAULTS.tlsMaxVersion];
  const minVersion = versions.includes('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3';
  const maxVersion = versions.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2';
  const ciphers = draft.ciphers?.value ?? DEFAULTS.tlsCiphers;
  if (draft.ciphers !== null) {
    try {
      tls.createSecureContext({ ciphers });
    } catch (e) {
      errors.push(new ConfigError(draft.ciphers.pos, `bad ssl_ciphers "${ciphers}": ${reason(e)}`));
      return null;
    }
  }
  let subject: string;
  try {
    subject = new X509Certificate(cert).subject.replace(/\n/g, ', ');
  } catch (e) {
    errors.push(new ConfigError(certificate.pos, `ssl_certificate ${certificate.value}: ${reason(e)}`));
    return null;
  }
  try {
    const context = tls.createSecureContext({
      cert,
      key: keyPem,
      minVersion,
      maxVersion,
      ciphers,
      secureOptions: SECURE_OPTIONS,
    });
    return { certificate: certificate.value, key: key.value, minVersion, maxVersion, ciphers, context, subject };
  } catch (e) {
    const why = reason(e);
    const detail = /mismatch/i.test(why)
      ? `ssl_certificate_key ${key.value} does not match ssl_certificate ${certificate.value}`
      : `ssl_certificate_key ${key.value}: ${why}`;
    errors.push(new ConfigError(key.pos, detail));
    return null;
  }
}
