/**
 * Typed configuration produced by the parser and validator (DESIGN §3).
 * Every path here is already absolute (resolved against the config file's directory).
 */

/** Methods a location may allow; HEAD is implied by GET (as NGINX's limit_except does). */
export type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE';

/** Where a directive was written, for error messages and logs. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One `location PATH { ... }` block. */
export interface LocationConfig {
  /** The location prefix, e.g. "/files"; always starts with "/", no trailing "/" except for "/" itself. */
  readonly path: string;
  /** Allowed methods; null when `methods` is absent (all implemented methods allowed). */
  readonly methods: ReadonlySet<Method> | null;
  /** Absolute filesystem directory replacing the location prefix; null when absent. */
  readonly root: string | null;
  /** File served for a directory URL, e.g. "index.html"; null when absent. */
  readonly defaultFile: string | null;
  /** `directory_listing on|off`, default off. */
  readonly directoryListing: boolean;
  /** `cgi .EXT INTERPRETER`: extension (with dot, lower case) → absolute interpreter path. */
  readonly cgi: ReadonlyMap<string, string>;
  /** `redirect URL`: answer 301 with this Location; null when absent. */
  readonly redirect: string | null;
  /** `session on|off`, default off (DESIGN §7). */
  readonly session: boolean;
  /** `status on|off`, default off: the location answers with server counters (like stub_status). */
  readonly status: boolean;
  readonly pos: SourcePos;
}

/** Timeouts in milliseconds (DESIGN §5); directive names follow NGINX. */
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
  /** Address to bind, e.g. "0.0.0.0", "127.0.0.1", "::1". */
  readonly host: string;
  /** One or more ports, in the order written, no duplicates. */
  readonly ports: readonly number[];
  /** Names matched against the Host header, lower case; empty when absent. */
  readonly serverNames: readonly string[];
  /** Maximum request body in bytes; 0 = unlimited. Default 1 MiB (NGINX's client_max_body_size). */
  readonly bodyLimit: number;
  /** `error_page CODE... PATH`: status → absolute file path. */
  readonly errorPages: ReadonlyMap<number, string>;
  /** Locations in the order written. */
  readonly locations: readonly LocationConfig[];
  readonly timeouts: Timeouts;
  /** `session_timeout`: idle expiry of a session in ms. */
  readonly sessionTimeout: number;
  /** `session_max`: most sessions kept; the least recently used is evicted beyond it. */
  readonly sessionMax: number;
  /** `access_log PATH|stdout|off`: absolute path, "stdout", or null for off (default). */
  readonly accessLog: string | null;
  /** `error_log PATH|stderr`: absolute path or "stderr" (default). */
  readonly errorLog: string;
  readonly pos: SourcePos;
}

/** A whole configuration file. */
export interface Config {
  /** Absolute path of the file it was read from. */
  readonly file: string;
  readonly servers: readonly ServerConfig[];
}

/** Defaults, documented in README.md. */
export const DEFAULTS = {
  bodyLimit: 1024 * 1024,
  timeouts: { header: 10_000, body: 10_000, keepalive: 15_000, send: 30_000, cgi: 30_000 },
  sessionTimeout: 30 * 60_000,
  sessionMax: 10_000,
  errorLog: 'stderr',
} as const;
