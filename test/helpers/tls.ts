/**
 * TLS for integration tests: a certificate authority and leaf certificates made with the openssl command in a
 * temporary directory, openssl s_client to see which certificate a server presents, and a keep-alive TLS client
 * (node:tls, test side only) that reads responses with the raw parser.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { tryParse, type RawResponse } from './http.js';

/** Runs openssl; throws with its stderr when it fails. */
function openssl(args: readonly string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** Makes `ca.crt`/`ca.key` in `dir`: a self-signed CA (P-256, a day long). */
export function makeCa(dir: string): string {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=localhost test CA', '-days', '1'])
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']),
    dir,
  );
  return path.join(dir, 'ca.crt');
}

/** Makes `FILE.crt`/`FILE.key` in `dir`: a leaf for DNS name `name` signed by the CA in `dir`, subject `subj`. */
export function makeLeaf(dir: string, file: string, name: string, subj = `/CN=${name}`): void {
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-keyout',
      `${file}.key`,
      '-out',
      `${file}.csr`,
      '-subj',
      subj,
    ]),
    dir,
  );
  fs.writeFileSync(path.join(dir, `${file}.ext`), `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
  openssl(
    ['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      `${file}.crt`,
      '-days',
      '1',
      '-extfile',
      `${file}.ext`,
    ]),
    dir,
  );
}

/** What `openssl s_client` saw: whether the handshake worked, and the subject of the server's certificate. */
export interface Handshake {
  readonly ok: boolean;
  readonly subject: string | null;
  readonly output: string;
}

/** `openssl s_client -connect 127.0.0.1:PORT [-servername NAME] EXTRA...`, verifying against `caFile`. */
export function sClient(
  port: number,
  serverName: string | null,
  caFile: string,
  extra: readonly string[] = [],
): Handshake {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-verify_return_error']
    .concat(serverName !== null ? ['-servername', serverName] : ['-noservername'])
    .concat(extra);
  const r = spawnSync('openssl', args, { input: '', encoding: 'utf8', timeout: 15_000 });
  const output = `${r.stdout}\n${r.stderr}`;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  const subject = pem === undefined ? null : new X509Certificate(pem).subject.replace(/\n/g, ', ');
  return { ok: r.status === 0 && pem !== undefined, subject, output };
}

/** A TLS connection that sends requests and reads one response at a time. */
export class TlsClient {
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    for (const e of ['end', 'close', 'error']) {
      socket.on(e, () => {
        this.ended = true;
        this.wake();
      });
    }
  }

  /** Connects and completes the handshake with SNI `serverName`, trusting only `ca`. */
  static connect(port: number, serverName: string, ca: Buffer): Promise<TlsClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port, servername: serverName, ca, ALPNProtocols: ['http/1.1'] },
        () => {
          s.off('error', reject);
          resolve(new TlsClient(s));
        },
      );
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Sends a request and reads its response (5 s at most). */
  async request(text: string): Promise<RawResponse> {
    this.socket.write(text);
    const end = Date.now() + 5000;
    for (;;) {
      const r = tryParse(this.buf, false, this.ended);
      if (r !== null) {
        this.buf = this.buf.subarray(r.used);
        return r.res;
      }
      if (this.ended || Date.now() > end) throw new Error('no complete response');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** The subject of the certificate the server presented. */
  get peerSubject(): string {
    const raw = this.socket.getPeerCertificate().raw;
    return new X509Certificate(raw).subject.replace(/\n/g, ', ');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A fresh temp dir holding a test CA (`ca.crt`) and a leaf for DNS name `localhost` (`site.crt`, `site.key`). */
export function localhostCertificate(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-certs-'));
  makeCa(dir);
  makeLeaf(dir, 'site', 'localhost');
  return dir;
}

/** A server block for `localhost` on `listen 127.0.0.1:{PORT} ssl` with the certificate in `certs`, serving
 *  `{DIR}/www` at `/` (default file index.html); `extra` (directives, other locations) goes before that location. */
export function httpsServer(certs: string, extra = ''): string {
  return `server {
  listen 127.0.0.1:{PORT} ssl
  server_name localhost
  ssl_certificate ${certs}/site.crt
  ssl_certificate_key ${certs}/site.key
${extra}  location / {
    root {DIR}/www
    default_file index.html
  }
}
`;
}
