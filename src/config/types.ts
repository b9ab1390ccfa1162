/**
 * Typed configuration produced by the parser and validator (docs/ARCHITECTURE.md "Configuration").
 * Every path here is already absolute (resolved against the config file's directory).
 */
import type { SessionStoreConfig } from './session-store.js';
import type { SecureContext } from 'node:tls';

import type {
  AddHeader,
  ErrorRedirect,
  Expires,
  LocationMatch,
  RewriteOp,
  Template,
  TryFiles,
} from './routing-types.js';
import type { AccessPolicy } from '../access/policy.js';
import type { RealIpConfig } from '../access/realip.js';
import type { FastcgiConfig } from './fastcgi.js';
import type { ProxyConfig } from './proxy.js';
import type { MimeTable } from '../http/mime.js';

/** A request method: any token (RFC 9110 §9.1, case-sensitive). HEAD is implied by GET in `methods` (as NGINX's
 *  limit_except does). */
export type Method = string;

/** Where a directive was written, for error messages and logs. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** How a location treats symbolic links (`disable_symlinks`, NGINX's name). */
export type SymlinkPolicy =
  /** Default: a link is followed only when its target stays inside the location's root; otherwise 403. */
  | 'inside-root'
  /** `disable_symlinks off`: every link is followed (NGINX's default). */
  | 'follow'
  /** `disable_symlinks on`: no path component below the root may be a link. */
  | 'none';

/** One `location PATH { ... }` block. */
export interface LocationConfig {
  /** The location prefix, e.g. "/files"; always starts with "/", no trailing "/" except for "/" itself. */
  readonly path: string;
  /**
   * Methods written in `methods` (any tokens); null when absent. Absent means read-only: GET and HEAD, plus POST to
   * CGI scripts where `cgi` is set (see router/dispatch.ts `allowedMethods`). Files answer only GET, HEAD, POST
   * (upload) and DELETE; scripts and upstreams get every method written. A location with `cgi` never stores or
   * deletes.
   */
  readonly methods: ReadonlySet<Method> | null;
  /** Absolute filesystem directory replacing the location prefix; null when absent. */
  readonly root: string | null;
  /**
   * `root` or `alias` with captures (`$1`…`$9`, regex locations only): `root` is then the directory before the
   * first capture, which every expansion must stay inside. `whole`: the URI is appended (root); else the expansion
   * is the file (alias, nginx's meaning). Null for a plain root.
   */
  readonly rootCaptures: { readonly template: Template; readonly whole: boolean } | null;
  /**
   * `index NAME...` (or `default_file NAME`), its own or else the server's: for a path ending in "/", the first
   * name that is a file there is served by an internal redirect (nginx's index module); a last name starting with
   * "/" is redirected to unconditionally. Empty: none (nginx's default is index.html; ours none, the seed's rule).
   */
  readonly index: readonly string[];
  /** `client_max_body_size` / `body_limit`, its own or else the server's: largest request body; 0 = unlimited. */
  readonly bodyLimit: number;
  /** `types { }` and `default_type` over the built-in table, the server's where the location sets none. */
  readonly mime: MimeTable;
  /** `directory_listing on|off`, default off. */
  readonly directoryListing: boolean;
  /** `cgi .EXT INTERPRETER`: extension (with dot, lower case) → absolute interpreter path. */
  readonly cgi: ReadonlyMap<string, string>;
  /** `redirect URL`: answer 301 with this Location; null when absent. */
  readonly redirect: string | null;
  /** `session on|off`, default off (docs/ARCHITECTURE.md "Sessions"). */
  readonly session: boolean;
  /** `status on|off`, default off: the location answers with server counters (like stub_status). */
  readonly status: boolean;
  /** `metrics on|off`, default off: the location answers with the metrics in Prometheus's text format. */
  readonly metrics: boolean;
  /** `dotfiles allow|deny`, default deny: a path segment starting with "." is 404 (`/.well-known/` excepted). */
  readonly dotfiles: boolean;
  /** `disable_symlinks on|off`; absent: links that stay inside the root are followed. */
  readonly symlinks: SymlinkPolicy;
  /** `gzip*` and `brotli*`, the server block's values where the location sets none (README "Compression"). */
  readonly compression: CompressionConfig;
  /** How `path` is matched (`location =`, `^~`, `~`, `~*`); a plain prefix by default. */
  readonly match: LocationMatch;
  /** The part of a request path the location's `root` replaces: `path` for prefixes, "" for `=` and regexes
   *  (whose root gets the whole URI, as in nginx). */
  readonly mapPrefix: string;
  /** `rewrite` and `return`, in the order written. */
  readonly ops: readonly RewriteOp[];
  /** `try_files`; null when absent. */
  readonly tryFiles: TryFiles | null;
  /** `add_header`s; null when the location sets none (the server's apply: nginx's inheritance). */
  readonly addHeaders: readonly AddHeader[] | null;
  /** `expires`; null when absent (the server's applies). */
  readonly expires: Expires | null;
  /** allow/deny, auth_basic, satisfy, limit_req, limit_conn: its own, else the server's (nginx's inheritance). */
  readonly access: AccessPolicy;
  /** `limit_rate` and `limit_rate_after`: each its own, else the server's (nginx's inheritance). */
  readonly limitRate: RateLimit;
  /** set_real_ip_from, real_ip_header, real_ip_recursive, merged with the server's; the server's own object
   *  when the location writes none of them; null when nobody is trusted. */
  readonly realIp: RealIpConfig | null;
  /** `proxy_pass` and its settings: the location is a reverse proxy (docs/ARCHITECTURE.md "Gateway"); null when
   *  absent. */
  readonly proxy: ProxyConfig | null;
  /** `fastcgi_pass` and its settings (docs/ARCHITECTURE.md "Gateway"); null when absent. */
  readonly fastcgi: FastcgiConfig | null;
  readonly pos: SourcePos;
}

/** Dynamic compression with one content coding: `gzip*` (nginx) or `brotli*` (ngx_brotli) directives. */
export interface CodingConfig {
  /** `gzip on|off` / `brotli on|off`, default off (as nginx). */
  readonly on: boolean;
  /** `gzip_types` / `brotli_types`: media types (lower case, no parameters), `type/*`, or `*` for any. */
  readonly types: readonly string[];
  /** `gzip_min_length` / `brotli_min_length`: smaller bodies are sent as they are. */
  readonly minLength: number;
  /** `gzip_comp_level` (1-9) / `brotli_comp_level` (0-11). */
  readonly level: number;
}

/** Both codings a location may compress with. */
export interface CompressionConfig {
  readonly gzip: CodingConfig;
  readonly brotli: CodingConfig;
}

/** One address a server answers on: from `host` and `port`, or from `listen [ADDR:]PORT [ssl] [default_server]
 *  [backlog=N]`. */
export interface Listen {
  /** Address to bind, e.g. "0.0.0.0", "127.0.0.1", "::1" (canonical text). */
  readonly host: string;
  readonly port: number;
  /**
   * listen(2) backlog, `backlog=N`. Default 4096, not NGINX's 511: our accept path is slower than NGINX's, and
   * under a burst a short queue overflows into connections the client believes open and the server never sees
   * (README "Connection bursts"). The kernel caps it at net.core.somaxconn.
   */
  readonly backlog: number;
  /** `ssl`: connections on this address speak TLS (node:tls); `host`/`port` addresses are always plain. */
  readonly ssl: boolean;
  /** `default_server`: this server answers the address's requests whose Host names no server. */
  readonly defaultServer: boolean;
  /** Where the address was written (the `port` or `listen` directive). */
  readonly pos: SourcePos;
}

/** The TLS versions `ssl_protocols` may name (older ones are refused: RFC 8996). */
export type TlsProtocol = 'TLSv1.2' | 'TLSv1.3';

/** A server block's certificate and TLS settings (`ssl_certificate`, `ssl_certificate_key`, `ssl_protocols`,
 *  `ssl_ciphers`), checked and loaded when the configuration is (docs/ARCHITECTURE.md "TLS"). */
export interface TlsConfig {
  /** Absolute paths of the PEM certificate (chain) and key. */
  readonly certificate: string;
  readonly key: string;
  /** The lowest and highest version offered. */
  readonly minVersion: TlsProtocol;
  readonly maxVersion: TlsProtocol;
  /** OpenSSL cipher list (TLS 1.2) and TLS 1.3 suites, colon-separated. */
  readonly ciphers: string;
  /** The context built from the files as they were read at load time (a reload reads them again). */
  readonly context: SecureContext;
  /** The certificate's subject, for the start-up line and logs. */
  readonly subject: string;
}

/**
 * How fast one response's body may go (nginx's `limit_rate` and `limit_rate_after`, ngx_http_core_module): after
 * the first `after` bytes, at most `rate` bytes per second. `rate` 0 means no limit (the default).
 */
export interface RateLimit {
  readonly rate: number;
  readonly after: number;
}

/** No limit: what a response gets unless `limit_rate` says otherwise. */
export const NO_RATE_LIMIT: RateLimit = { rate: 0, after: 0 };

/** Timeouts in milliseconds (docs/ARCHITECTURE.md "Timeouts"); directive names follow NGINX. */
export interface Timeouts {
  /** `client_header_timeout`: the whole request head must arrive within this. */
  readonly header: number;
  /** `client_body_timeout`: longest gap between two reads of the body. */
  readonly body: number;
  /** `keepalive_timeout`: idle time allowed between requests. */
  readonly keepalive: number;
  /** `send_timeout`: longest time the client may leave a response unread. */
  readonly send: number;
  /** `cgi_timeout`: a CGI script must complete its headers within this. */
  readonly cgi: number;
}

/** One `server { ... }` block. */
export interface ServerConfig {
  /** The addresses it answers on, in the order written, no duplicates; at least one. */
  readonly listens: readonly Listen[];
  /** Names matched against the Host header, lower case; empty when absent. */
  readonly serverNames: readonly string[];
  /** Maximum request body in bytes; 0 = unlimited. Default 1 MiB (NGINX's client_max_body_size). */
  readonly bodyLimit: number;
  /** `error_page CODE... PATH`: status → absolute file path. */
  readonly errorPages: ReadonlyMap<number, string>;
  /** Locations in the order written. */
  readonly locations: readonly LocationConfig[];
  /** `error_page CODE... [=[CODE]] URI`: status → internal redirect (issue 17). */
  readonly errorRedirects: ReadonlyMap<number, ErrorRedirect>;
  /** Server-level `rewrite` and `return`, run before the location is chosen. */
  readonly ops: readonly RewriteOp[];
  /** Server-level `add_header`s (used by locations that set none). */
  readonly addHeaders: readonly AddHeader[];
  /** Server-level `expires`; null when absent. */
  readonly expires: Expires | null;
  readonly timeouts: Timeouts;
  /** `session_timeout`: idle expiry of a session in ms. */
  readonly sessionTimeout: number;
  /** `session_max`: most sessions kept; the least recently used is evicted beyond it. */
  readonly sessionMax: number;
  /** `session_max_per_address`: most sessions one client address may hold; its oldest is evicted beyond it. */
  readonly sessionMaxPerAddress: number;
  /** `session_store`: this process's memory (default) or Redis. */
  readonly sessionStore: SessionStoreConfig;
  /** `access_log PATH|stdout|off`: absolute path, "stdout", or null for off (default). */
  readonly accessLog: string | null;
  /** The format of `access_log PATH FORMAT`; `combined` when not named. */
  readonly accessLogFormat: LogFormat;
  /** `access_log`'s `buffer=`, `flush=` and `if=`. */
  readonly accessLogOptions: AccessLogOptions;
  /** `error_log PATH|stderr`: absolute path or "stderr" (default). */
  readonly errorLog: string;
  /** The certificate and TLS settings; null when the server has no `ssl_certificate`. Set whenever a listen has
   *  `ssl` (such a server without a certificate is skipped). */
  readonly tls: TlsConfig | null;
  /** The server level's access control, for requests no location matches (locations carry theirs merged). */
  readonly access: AccessPolicy;
  /** The server level's `limit_rate` and `limit_rate_after`, for requests no location matches. */
  readonly limitRate: RateLimit;
  /** The server level's realip settings (nginx's ngx_http_realip_module); null when nobody is trusted, and the
   *  request cycle then reads no header for it. */
  readonly realIp: RealIpConfig | null;
  /** `error_log PATH LEVEL`: the least severe level written; default `info` (nginx's is `error`). */
  readonly errorLogLevel: LogLevel;
  readonly pos: SourcePos;
}

/** A whole configuration file. */
export interface Config {
  /** Absolute path of the file it was read from. */
  readonly file: string;
  /** The servers that can run (a broken one is skipped, unless `strict`). */
  readonly servers: readonly ServerConfig[];
  /** `strict on` at top level, or `--strict`: one broken server stops all (all-or-nothing). */
  readonly strict: boolean;
  /** `transport native|node`: which transport carries plain-TCP listeners; null when the file does not say
   *  (native where the addon loaded, else node; LOCALHOST_TRANSPORT overrides both). */
  readonly transport: TransportName | null;
  /** `pid PATH`: where the running server writes its process id (removed at exit); null when absent. */
  readonly pid: string | null;
  /** `worker_processes N|auto` (default 1: one process serves, as before). Above 1, a master binds the listeners
   *  and that many workers accept on them (docs/ARCHITECTURE.md "Worker processes"); auto is resolved here. */
  readonly workerProcesses: number;
}

/** How a log format escapes variable values: nginx's `escape=` (default: `"`, `\` and bytes outside
 *  0x20–0x7e as `\xXX`, an empty value as `-`; json: as inside a JSON string; none: as received). */
export type LogEscape = 'default' | 'json' | 'none';

/** One piece of a compiled log format: text as written, or a variable (`header` set for `$http_NAME`). */
export type LogPart = { readonly literal: string } | { readonly variable: string; readonly header: string | null };

/** How an access log writes (nginx's `access_log … buffer=SIZE flush=TIME if=CONDITION`). */
export interface AccessLogOptions {
  /** Bytes of lines held before a write(2); 64 KiB unless `buffer=` says. */
  readonly buffer: number;
  /** The longest a line waits in the buffer, ms; 1 s unless `flush=` says. */
  readonly flushMs: number;
  /** `if=`: the request is not logged when this evaluates to "" or "0"; null logs every request. */
  readonly condition: LogFormat | null;
}

/** `log_format NAME [escape=...] STRING...`, compiled (config/log-format.ts). */
export interface LogFormat {
  readonly name: string;
  readonly escape: LogEscape;
  readonly parts: readonly LogPart[];
}

/** Error-log severities, least severe first (nginx's). */
export type LogLevel = 'debug' | 'info' | 'notice' | 'warn' | 'error' | 'crit';

/** The two transports (docs/ARCHITECTURE.md "Transports"). */
export type TransportName = 'native' | 'node';

/** Defaults, documented in README.md. */
export const DEFAULTS = {
  bodyLimit: 1024 * 1024,
  timeouts: { header: 10_000, body: 10_000, keepalive: 15_000, send: 30_000, cgi: 30_000 },
  sessionTimeout: 30 * 60_000,
  sessionMax: 10_000,
  sessionMaxPerAddress: 100,
  backlog: 4096,
  errorLog: 'stderr',
  /** Mozilla's "intermediate" profile (ssl-config.mozilla.org, v5.7): TLS 1.2 and 1.3, AEAD ciphers with forward
   *  secrecy only. */
  tlsMinVersion: 'TLSv1.2',
  tlsMaxVersion: 'TLSv1.3',
  tlsCiphers:
    'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:' +
    'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:' +
    'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:' +
    'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305',
} as const;

/** The types compressed when `gzip_types` / `brotli_types` is absent: text, scripts, data, SVG, wasm. */
export const COMPRESSIBLE_TYPES: readonly string[] = [
  'text/*',
  'application/javascript',
  'application/json',
  'application/manifest+json',
  'application/xml',
  'image/svg+xml',
  'application/wasm',
];

/** Compression defaults: off; nginx's gzip_comp_level 1 and ngx_brotli's brotli_comp_level 6. */
export const COMPRESSION_DEFAULTS: CompressionConfig = {
  gzip: { on: false, types: COMPRESSIBLE_TYPES, minLength: 256, level: 1 },
  brotli: { on: false, types: COMPRESSIBLE_TYPES, minLength: 256, level: 6 },
};
