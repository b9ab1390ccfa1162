/**
 * Validator (docs/ARCHITECTURE.md "Configuration"): walks the untyped tree from parser.ts and builds the typed Config.
 * Each block's directives live in a table (name → arity, value parser, setter), so adding a
 * directive is one line in the table.
 */
import { MEMORY_STORE, parseSessionStore } from './session-store.js';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as os from 'node:os';
import { isToken } from '../http/abnf.js';
import { DEFAULT_CONTENT_TYPE, mimeTable } from '../http/mime.js';
import * as path from 'node:path';
import { loadTls, parseProtocols, type TlsDraft } from './tls.js';
import { ConfigError } from './errors.js';
import { COMBINED, compileLogFormat } from './log-format.js';
import { err, ok, type Result } from '../lib/result.js';
import type { ArgNode, DirectiveNode } from './parser.js';
import { sortErrors } from './parser.js';
import { mergePolicy, OPEN_POLICY, type AccessDraft } from '../access/policy.js';
import { mergeRealIp, type RealIpDraft } from '../access/realip.js';
import {
  loadUserFile,
  parseLimitConn,
  parseLimitReq,
  parseLimitStatus,
  parseRealIpFrom,
  parseRealIpHeader,
  parseRealm,
  parseRule,
  parseSatisfy,
} from './access-directives.js';
import {
  applyAddHeader,
  applyErrorRedirect,
  applyExpires,
  applyReturn,
  applyRewrite,
  applyTryFiles,
  isErrorPageUri,
  parseLocationHead,
} from './routing.js';
import type { ErrorRedirect } from './routing-types.js';
import { namePattern } from '../router/vhost.js';
import { compileTemplate } from '../router/variables.js';
import { NGINX_DIRECTIVES, unwrapNginx } from './nginx-shape.js';
import {
  FASTCGI_DEFAULT_KEEPALIVE,
  parseFastcgiPass,
  parseParamName,
  parseParamValue,
  parseSplitPathInfo,
  type FastcgiConfig,
  type FastcgiParam,
  type FastcgiPass,
} from './fastcgi.js';
import {
  mergeHeaderSettings,
  parseProxyPass,
  parseTemplate,
  parseAddress,
  PROXY_TIMEOUT_DEFAULT,
  singleUpstream,
  type HeaderSetting,
  type ProxyPassUrl,
  type UpstreamConfig,
  type UpstreamServer,
} from './proxy.js';
import {
  COMPRESSION_DEFAULTS,
  DEFAULTS,
  NO_RATE_LIMIT,
  type CodingConfig,
  type CompressionConfig,
  type Config,
  type Listen,
  type LocationConfig,
  type LogEscape,
  type AccessLogOptions,
  type LogFormat,
  type LogLevel,
  type Method,
  type RateLimit,
  type ServerConfig,
  type SourcePos,
  type SymlinkPolicy,
  type TlsConfig,
  type TransportName,
} from './types.js';

/**
 * The outcome of validation. `config` holds the servers that can run, or is null when none can (or the file is
 * broken outside any server block, or `strict` is on and anything is wrong). `errors` lists every problem in
 * source order; those that only cost their server its place end in "(server skipped)".
 */
export interface ValidateResult {
  readonly config: Config | null;
  readonly errors: ConfigError[];
  /** Things accepted and ignored (`events { }`), worth a line at start. */
  readonly notices?: ConfigError[];
}

/** Options the command line can force. */
export interface ValidateOptions {
  /** `--strict`: as `strict on` in the file. */
  readonly strict?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Drafts: mutable shapes filled in by the directive table, frozen into the types.ts shapes.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type RoutingOps = Parameters<typeof applyReturn>[0]['ops'];
type RoutingHeaders = NonNullable<Parameters<typeof applyReturn>[0]['addHeaders']>;

/** One coding's directives as written in one block; what is absent comes from the enclosing block. */
interface CodingDraft {
  on?: boolean;
  types?: string[];
  minLength?: number;
  level?: number;
}

/** `limit_rate` and `limit_rate_after` as written in one block; what is absent comes from the enclosing block. */
interface RateDraft {
  rate?: number;
  after?: number;
}

/** The `gzip*` and `brotli*` directives of one server or location block. */
interface CompressionDraft {
  gzip: CodingDraft;
  brotli: CodingDraft;
}

/** `types { }` and `default_type` as written in one block; what is absent comes from the enclosing block. */
interface MimeDraft {
  /** Extension → bare type, in the order written. */
  entries: [string, string][];
  /** An empty `types { }` was written: the built-in table (and the server's entries) do not apply. */
  clear: boolean;
  /** `default_type`, as written (bare, or with parameters); null when absent here. */
  defaultType: string | null;
}

/** `index`, `client_max_body_size`/`body_limit`, `types`, `default_type`: alike in server and location blocks. */
interface ContentDraft {
  /** `index` names in the order written; null when the block has none. */
  index: string[] | null;
  /** `client_max_body_size` / `body_limit`; null when absent here. */
  bodyLimit: number | null;
  bodyLimitPos: SourcePos | null;
  mime: MimeDraft;
}

interface LocationDraft
  extends
    ContentDraft,
    Mutable<
      Omit<
        LocationConfig,
        | 'methods'
        | 'cgi'
        | 'compression'
        | 'ops'
        | 'addHeaders'
        | 'tryFiles'
        | 'access'
        | 'proxy'
        | 'fastcgi'
        | 'index'
        | 'bodyLimit'
        | 'mime'
        | 'limitRate'
        | 'realIp'
      >
    > {
  compression: CompressionDraft;
  fastcgi: FastcgiDraft;
  limitRate: RateDraft;
  ops: RoutingOps;
  addHeaders: RoutingHeaders | null;
  tryFiles: LocationConfig['tryFiles'];
  access: AccessDraft;
  realIp: RealIpDraft;
  methods: Set<Method> | null;
  proxy: ProxyDraft;
  cgi: Map<string, string>;
  cgiPos: Map<string, SourcePos>;
  /** Nothing in the block serves a request: it needs its server's `root` (checked once the server is read). */
  needsRoot: boolean;
}

interface ServerDraft
  extends
    ContentDraft,
    Mutable<
      Omit<
        ServerConfig,
        | 'listens'
        | 'serverNames'
        | 'errorPages'
        | 'locations'
        | 'timeouts'
        | 'tls'
        | 'errorRedirects'
        | 'ops'
        | 'addHeaders'
        | 'access'
        | 'accessLogFormat'
        | 'bodyLimit'
        | 'limitRate'
        | 'realIp'
      >
    > {
  limitRate: RateDraft;
  /** The ssl_* directives as written; loaded into `tls` once the block is walked. */
  tlsDraft: TlsDraft;
  tls: TlsConfig | null;
  errorRedirects: Map<number, ErrorRedirect>;
  ops: RoutingOps;
  addHeaders: RoutingHeaders | null;
  access: AccessDraft;
  realIp: RealIpDraft;
  /** `access_log PATH FORMAT`'s name, resolved against the log_formats once the whole file is read. */
  accessLogFormatName: string;
  accessLogFormatPos: SourcePos | null;
  accessLogOptions: AccessLogOptions;
  host: string | null;
  ports: number[];
  portPos: Map<number, SourcePos>;
  /** Ports written in a `port ... default_server` directive. */
  defaultPorts: Set<number>;
  /** From `listen` directives. */
  listens: Listen[];
  serverNames: string[];
  /** The server level's `root` (nginx's meaning: the whole URI is appended), and where it was written. */
  root: string | null;
  rootPos: SourcePos | null;
  errorPages: Map<number, string>;
  locations: LocationDraft[];
  timeouts: Mutable<ServerConfig['timeouts']>;
  compression: CompressionDraft;
  /** Everything wrong with this server block: any entry means it is skipped. */
  errors: ConfigError[];
}

interface MainDraft {
  servers: ServerDraft[];
  /** `upstream NAME { ... }` blocks by name. */
  upstreams: Map<string, UpstreamConfig & { readonly pos: SourcePos }>;
  strict: boolean;
  transport: TransportName | null;
  pid: string | null;
  workerProcesses: number;
  /** `log_format`s by name, `combined` predefined; where each was written. */
  logFormats: Map<string, LogFormat>;
  logFormatPos: Map<string, SourcePos>;
}

/** What every value parser and setter may need: where relative paths start, where errors go. */
interface Ctx {
  readonly dir: string;
  readonly errors: ConfigError[];
}

// ---------------------------------------------------------------------------------------------
// The directive tables.

/** The three kinds of block; `main` is the top level. */
export type BlockKind = 'main' | 'server' | 'location';

/** How one directive is checked and applied. */
interface Spec<D> {
  /** Its arguments as documented, e.g. "CODE... PATH"; shown in arity errors. */
  readonly usage: string;
  readonly min: number;
  readonly max: number;
  /** May appear more than once in a block (otherwise a second one is an error). */
  readonly repeatable: boolean;
  /** Takes a `{ ... }` block. */
  readonly block: boolean;
  /** Applies a directive whose arity and block were already checked; pushes errors to ctx. */
  readonly apply: (draft: D, node: DirectiveNode, ctx: Ctx) => void;
}

/** Turns an argument into a value, or says why it cannot (the caller reports it at the argument). */
type ValueParser<T> = (arg: ArgNode, ctx: Ctx, directive: string) => Result<T, string>;

const LOCATION = new Map<string, Spec<LocationDraft>>([
  ['methods', many('METHOD...', parseMethod, (l, m) => void (l.methods ??= new Set()).add(m))],
  ['root', custom('DIR', 1, 1, false, (l, n, c) => applyRoot(l, n, c, true))],
  ['alias', custom('DIR', 1, 1, false, (l, n, c) => applyRoot(l, n, c, false))],
  ['default_file', one('NAME', parseFileName, (l, v) => void (l.index ??= []).push(v))],
  ...contentSpecs<LocationDraft>(),
  ['directory_listing', one('on|off', parseSwitch, (l, v) => void (l.directoryListing = v))],
  ['cgi', custom('.EXT INTERPRETER', 2, 2, true, applyCgi)],
  ['redirect', one('URL', parseRedirect, (l, v) => void (l.redirect = v))],
  ['session', one('on|off', parseSwitch, (l, v) => void (l.session = v))],
  ['status', one('on|off', parseSwitch, (l, v) => void (l.status = v))],
  ['metrics', one('on|off', parseSwitch, (l, v) => void (l.metrics = v))],
  ['dotfiles', one('allow|deny', parseDotfiles, (l, v) => void (l.dotfiles = v))],
  ['disable_symlinks', one('on|off', parseSymlinks, (l, v) => void (l.symlinks = v))],
  ...compressionSpecs<LocationDraft>(),
  ...rateSpecs<LocationDraft>(),
  ['rewrite', custom('REGEX REPLACEMENT [FLAG]', 2, 3, true, applyRewrite)],
  ['return', custom('CODE [TEXT|URL] | URL', 1, 2, true, applyReturn)],
  ['try_files', custom('FILE... URI|=CODE', 2, Infinity, false, applyTryFiles)],
  ['add_header', custom('NAME VALUE [always]', 2, 3, true, applyAddHeader)],
  ['expires', custom('TIME|epoch|max|off', 1, 1, false, applyExpires)],
  ...accessSpecs<LocationDraft>(),
  ...realIpSpecs<LocationDraft>(),
  ['proxy_pass', custom('URL', 1, 1, false, applyProxyPass)],
  ['proxy_set_header', custom('NAME VALUE', 2, 2, true, applyProxySetHeader)],
  ['proxy_hide_header', many('NAME...', parseFieldName, (l, v) => void l.proxy.hide.add(v), true)],
  ['proxy_pass_header', many('NAME...', parseFieldName, (l, v) => void l.proxy.pass_.add(v), true)],
  ['proxy_connect_timeout', one('DURATION', parseDuration, (l, v) => void (l.proxy.connectTimeout = v))],
  ['proxy_read_timeout', one('DURATION', parseDuration, (l, v) => void (l.proxy.readTimeout = v))],
  ['proxy_send_timeout', one('DURATION', parseDuration, (l, v) => void (l.proxy.sendTimeout = v))],
  ['fastcgi_pass', custom('ADDR:PORT|unix:PATH|UPSTREAM', 1, 1, false, applyFastcgiPass)],
  ['fastcgi_param', custom('NAME VALUE [if_not_empty]', 2, 3, true, applyFastcgiParam)],
  ['fastcgi_index', one('NAME', parseFileName, (l, v) => void (l.fastcgi.index = v))],
  [
    'fastcgi_split_path_info',
    one(
      'REGEX',
      (a) => parseSplitPathInfo(a.value),
      (l, v) => void (l.fastcgi.split = v),
    ),
  ],
  ['fastcgi_keep_conn', one('on|off', parseSwitch, (l, v) => void (l.fastcgi.keepConn = v))],
  ['fastcgi_connect_timeout', one('DURATION', parseDuration, (l, v) => void (l.fastcgi.connectTimeout = v))],
  ['fastcgi_read_timeout', one('DURATION', parseDuration, (l, v) => void (l.fastcgi.readTimeout = v))],
  ['fastcgi_send_timeout', one('DURATION', parseDuration, (l, v) => void (l.fastcgi.sendTimeout = v))],
]);

/** A location's FastCGI directives as they are read; frozen into a FastcgiConfig when `fastcgi_pass` is set. */
interface FastcgiDraft {
  pass: FastcgiPass | null;
  passPos: SourcePos | null;
  /** The upstream block a `fastcgi_pass NAME` names, once resolved. */
  upstream: UpstreamConfig | null;
  params: FastcgiParam[];
  index: string;
  split: RegExp | null;
  keepConn: boolean;
  connectTimeout: number;
  readTimeout: number;
  sendTimeout: number;
}

/** A location's proxy directives as they are read; frozen into a ProxyConfig when `proxy_pass` is set. */
interface ProxyDraft {
  pass: ProxyPassUrl | null;
  passPos: SourcePos | null;
  upstream: UpstreamConfig | null;
  set: HeaderSetting[];
  hide: Set<string>;
  pass_: Set<string>;
  connectTimeout: number;
  readTimeout: number;
  sendTimeout: number;
}

const SERVER = new Map<string, Spec<ServerDraft>>([
  ['host', one('ADDR', parseHost, (s, v) => void (s.host = v))],
  ['port', custom('N... [default_server]', 1, Infinity, true, applyPort)],
  ['listen', custom('[ADDR:]PORT [ssl] [default_server] [backlog=N]', 1, 4, true, applyListen)],
  ['ssl_certificate', custom('PATH', 1, 1, false, (s, n, c) => void (s.tlsDraft.certificate = pathArg(n, c)))],
  ['ssl_certificate_key', custom('PATH', 1, 1, false, (s, n, c) => void (s.tlsDraft.key = pathArg(n, c)))],
  ['ssl_protocols', custom('TLSv1.2|TLSv1.3...', 1, 2, false, (s, n, c) => parseProtocols(s.tlsDraft, n, c.errors))],
  ['ssl_ciphers', custom('CIPHERS', 1, 1, false, (s, n) => void (s.tlsDraft.ciphers = n.args[0] ?? null))],
  ['server_name', many('NAME...', parseServerName, (s, v) => void s.serverNames.push(v), true)],
  ['root', custom('DIR', 1, 1, false, applyServerRoot)],
  ...contentSpecs<ServerDraft>(),
  ['error_page', custom('CODE... PATH', 2, Infinity, true, applyErrorPage)],
  ['client_header_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.header = v))],
  ['client_body_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.body = v))],
  ['keepalive_timeout', one('DURATION', parseKeepalive, (s, v) => void (s.timeouts.keepalive = v))],
  ['send_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.send = v))],
  ['cgi_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.cgi = v))],
  ['session_timeout', one('DURATION', parseDuration, (s, v) => void (s.sessionTimeout = v))],
  ['session_max', one('N', parseCount, (s, v) => void (s.sessionMax = v))],
  ['session_max_per_address', one('N', parseCount, (s, v) => void (s.sessionMaxPerAddress = v))],
  ['session_store', custom('memory | redis://[user:pass@]HOST:PORT[/DB] [prefix=P]', 1, 2, false, applySessionStore)],
  [
    'access_log',
    custom('PATH|stdout|off [FORMAT] [buffer=SIZE] [flush=TIME] [if=CONDITION]', 1, 6, false, applyAccessLog),
  ],
  ['error_log', custom('PATH|stderr [LEVEL]', 1, 2, false, applyErrorLog)],
  ...compressionSpecs<ServerDraft>(),
  ...rateSpecs<ServerDraft>(),
  ['rewrite', custom('REGEX REPLACEMENT [FLAG]', 2, 3, true, applyRewrite)],
  ['return', custom('CODE [TEXT|URL] | URL', 1, 2, true, applyReturn)],
  ['add_header', custom('NAME VALUE [always]', 2, 3, true, applyAddHeader)],
  ['expires', custom('TIME|epoch|max|off', 1, 1, false, applyExpires)],
  ['location', { usage: '[=|^~|~|~*] PATH', min: 1, max: 2, repeatable: true, block: true, apply: applyLocation }],
  ...accessSpecs<ServerDraft>(),
  ...realIpSpecs<ServerDraft>(),
]);

const MAIN = new Map<string, Spec<MainDraft>>([
  ['server', { usage: '', min: 0, max: 0, repeatable: true, block: true, apply: applyServer }],
  ['strict', one('on|off', parseSwitch, (m, v) => void (m.strict = v))],
  ['transport', one('native|node', parseTransport, (m, v) => void (m.transport = v))],
  ['pid', one('PATH', parsePath, (m, v) => void (m.pid = v))],
  ['worker_processes', one('N|auto', parseWorkers, (m, v) => void (m.workerProcesses = v))],
  ['log_format', custom('NAME [escape=default|json|none] STRING...', 2, Infinity, true, applyLogFormat)],
  ['upstream', { usage: 'NAME', min: 1, max: 1, repeatable: true, block: true, apply: applyUpstream }],
]);

/** What the tables say of a directive, whatever draft it applies to. */
type SpecInfo = Omit<Spec<never>, 'apply'>;
const TABLES: Record<BlockKind, ReadonlyMap<string, SpecInfo>> = { main: MAIN, server: SERVER, location: LOCATION };
const BLOCK_KINDS: readonly BlockKind[] = ['main', 'server', 'location'];

/** One directive as the validator knows it, for `localhost --directives` and the README check. */
export interface DirectiveInfo {
  /** The block it belongs in: `main` is the top level. */
  readonly context: BlockKind;
  readonly name: string;
  /** Its arguments as documented, e.g. "CODE... PATH". */
  readonly usage: string;
  readonly repeatable: boolean;
  readonly block: boolean;
}

/** Every directive of every block, in table order: the one list of what a configuration may say. */
export function directiveTable(): DirectiveInfo[] {
  return BLOCK_KINDS.flatMap((context) =>
    [...TABLES[context]].map(([name, spec]) => ({
      context,
      name,
      usage: spec.usage,
      repeatable: spec.repeatable,
      block: spec.block,
    })),
  );
}

/** NGINX directives people will type, and what to write here instead. */
const NGINX_NAMES: ReadonlyMap<string, string> = new Map([
  ['autoindex', 'use "directory_listing" instead'],
  ['limit_except', 'use "methods" instead'],
]);

// ---------------------------------------------------------------------------------------------
// Entry point and the generic block walker.

/**
 * Checks the parsed directives of `file` (absolute) and builds the Config. A server block with an error is
 * skipped and the others run (docs/ARCHITECTURE.md "Configuration"); an error outside any server block, or any error at all with `strict`,
 * leaves no config.
 */
export function validate(
  directives: readonly DirectiveNode[],
  file: string,
  opts: ValidateOptions = {},
): ValidateResult {
  const ctx: Ctx = { dir: path.dirname(file), errors: [] };
  const main: MainDraft = {
    servers: [],
    upstreams: new Map(),
    strict: opts.strict === true,
    transport: null,
    pid: null,
    workerProcesses: 1,
    logFormats: new Map([['combined', COMBINED]]),
    logFormatPos: new Map(),
  };
  const notices: ConfigError[] = [];
  walk('main', MAIN, main, unwrapNginx(directives, ctx.errors, notices), ctx, null);
  resolveUpstreams(main);
  if (opts.strict === true) main.strict = true;
  for (const s of main.servers) {
    if (s.accessLogFormatPos !== null && !main.logFormats.has(s.accessLogFormatName))
      s.errors.push(new ConfigError(s.accessLogFormatPos, `unknown log format "${s.accessLogFormatName}"`));
  }
  checkServerClashes(main.servers);
  checkTlsAgreement(main.servers);
  checkUploadsCannotRun(main.servers);
  if (main.servers.length === 0 && ctx.errors.length === 0) {
    ctx.errors.push(
      new ConfigError({ file, line: 1, col: 1 }, 'no server block: the file must define at least one "server { ... }"'),
    );
  }
  const skipSuffix = main.strict ? '' : ' (server skipped)';
  const serverErrors = main.servers.flatMap((s) => s.errors.map((e) => new ConfigError(e.pos, e.detail + skipSuffix)));
  const errors = sortErrors([...ctx.errors, ...serverErrors]);
  const runnable = main.servers.filter((s) => s.errors.length === 0);
  const fatal = ctx.errors.length > 0 || runnable.length === 0 || (main.strict && errors.length > 0);
  if (fatal) return { config: null, errors, notices };
  return {
    config: {
      file,
      servers: runnable.map((s) => freezeServer(s, main.logFormats)),
      strict: main.strict,
      transport: main.transport,
      pid: main.pid,
      workerProcesses: main.workerProcesses,
    },
    errors,
    notices,
  };
}

/**
 * Applies each directive of one block through its table. Returns the directives seen, and whether
 * an unknown one was met: it may be the misspelt "host" or "root", so block-level checks ("missing
 * host", "nothing to serve") are skipped rather than reported on top of the real mistake.
 */
function walk<D>(
  kind: BlockKind,
  table: ReadonlyMap<string, Spec<D>>,
  draft: D,
  nodes: readonly DirectiveNode[],
  ctx: Ctx,
  parent: DirectiveNode | null,
): { seen: Map<string, SourcePos>; hadUnknown: boolean } {
  const seen = new Map<string, SourcePos>();
  let hadUnknown = false;
  for (const node of nodes) {
    const spec = table.get(node.name);
    if (spec === undefined) {
      const misplaced = BLOCK_KINDS.find((k) => TABLES[k].has(node.name));
      hadUnknown ||= misplaced === undefined;
      const detail = misplaced
        ? misplacedDirective(kind, misplaced, node.name, parent)
        : unknownDirective(kind, node.name);
      report(ctx, node.pos, detail);
      continue;
    }
    const first = seen.get(node.name);
    if (!spec.repeatable && first !== undefined) {
      report(ctx, node.pos, `duplicate "${node.name}" directive (first at ${at(first)})`);
      continue;
    }
    seen.set(node.name, node.pos);
    if (spec.block && node.block === null) {
      const head = `${node.name} ${spec.usage}`.trimEnd();
      report(ctx, node.pos, `"${node.name}" needs a block: expected "{" after "${head}"`);
      continue;
    }
    if (!spec.block && node.block !== null) {
      report(ctx, node.block.open, `unexpected "{": "${node.name}" is not a block directive`);
      continue;
    }
    const n = node.args.length;
    if (n < spec.min || n > spec.max) {
      const extra = node.args[spec.max];
      report(ctx, extra?.pos ?? node.pos, arityMessage(node.name, spec, n));
      continue;
    }
    const empty = node.args.find((a) => a.value === '');
    if (empty !== undefined) {
      report(ctx, empty.pos, `empty argument: "${node.name}" expects ${spec.usage}`);
      continue;
    }
    spec.apply(draft, node, ctx);
  }
  return { seen, hadUnknown };
}

function arityMessage(name: string, spec: Omit<Spec<never>, 'apply'>, got: number): string {
  const plural = (k: number): string => (k === 1 ? 'argument' : 'arguments');
  const usage = `${name} ${spec.usage}${spec.block ? ' { ... }' : ''}`.replace('  ', ' ');
  const wanted =
    spec.max === 0
      ? 'no arguments'
      : spec.min === spec.max
        ? `${spec.min} ${plural(spec.min)}`
        : spec.max === Infinity
          ? `at least ${spec.min} ${plural(spec.min)}`
          : `${spec.min} to ${spec.max} arguments`;
  return `"${name}" takes ${wanted} (${usage}), got ${got}`;
}

const blockPhrase = (kind: BlockKind, article: boolean): string =>
  kind === 'main' ? 'at top level' : `in ${article ? 'a ' : ''}${kind} block`;

/** The message for a directive of another block. */
function misplacedDirective(kind: BlockKind, home: BlockKind, name: string, parent: DirectiveNode | null): string {
  const belongs = home === 'main' ? 'at top level' : `in a ${home} block`;
  let msg = `"${name}" is not allowed ${blockPhrase(kind, true)}; it belongs ${belongs}`;
  // A server inside a server (or a location inside a location) usually means a missing "}".
  if (parent !== null && parent.name === name) msg += ` (is the "}" of the ${name} at ${at(parent.pos)} missing?)`;
  return msg;
}

/** The message for a name no block knows: an NGINX name, a misspelling, or neither. */
function unknownDirective(kind: BlockKind, name: string): string {
  const nginx = NGINX_NAMES.get(name);
  if (nginx !== undefined) return `unknown directive "${name}" ${blockPhrase(kind, false)}; ${nginx}`;
  // Only names no table knows: one of ours in the wrong block is told where it belongs (below).
  if (NGINX_DIRECTIVES.has(name) && !BLOCK_KINDS.some((k) => TABLES[k].has(name)))
    return `"${name}" is not supported (nginx directive)`;
  const own = nearest(name, [...TABLES[kind].keys()]);
  if (own !== null) {
    return `unknown directive "${name}" ${blockPhrase(kind, false)}; did you mean "${own}"?`;
  }
  for (const other of BLOCK_KINDS) {
    const near = other === kind ? null : nearest(name, [...TABLES[other].keys()]);
    if (near !== null) {
      const where = other === 'main' ? 'a top-level directive' : `a ${other} directive`;
      return `unknown directive "${name}" ${blockPhrase(kind, false)}; did you mean "${near}" (${where})?`;
    }
  }
  if (kind === 'main') return `unknown directive "${name}" at top level: expected "server"`;
  return `unknown directive "${name}" ${blockPhrase(kind, false)}`;
}

// ---------------------------------------------------------------------------------------------
// Table building helpers.

/** A directive with exactly one argument. */
function one<D, T>(usage: string, parse: ValueParser<T>, set: (draft: D, value: T) => void): Spec<D> {
  return custom(usage, 1, 1, false, (draft, node, ctx) => {
    const arg = node.args[0];
    if (arg === undefined) return; // arity was checked by the walker
    const value = parse(arg, ctx, node.name);
    if (value.ok) set(draft, value.value);
    else report(ctx, arg.pos, value.error);
  });
}

/** A directive with one or more arguments parsed alike; `add` returns a reason to reject one (e.g. a repeat). */
function many<D, T>(
  usage: string,
  parse: ValueParser<T>,
  add: (draft: D, value: T, arg: ArgNode) => string | undefined,
  repeatable = false,
): Spec<D> {
  return custom(usage, 1, Infinity, repeatable, (draft, node, ctx) => {
    for (const arg of node.args) {
      const value = parse(arg, ctx, node.name);
      const problem = value.ok ? add(draft, value.value, arg) : value.error;
      if (problem !== undefined) report(ctx, arg.pos, problem);
    }
  });
}

function custom<D>(usage: string, min: number, max: number, repeatable: boolean, apply: Spec<D>['apply']): Spec<D> {
  return { usage, min, max, repeatable, block: false, apply };
}

/**
 * `gzip on|off`, `gzip_types`, `gzip_min_length`, `gzip_comp_level` (nginx) and their `brotli*` twins (ngx_brotli),
 * alike in server and location blocks.
 */
function compressionSpecs<D extends { compression: CompressionDraft }>(): Array<[string, Spec<D>]> {
  const specs: Array<[string, Spec<D>]> = [];
  for (const [coding, min, max] of [
    ['gzip', 1, 9],
    ['brotli', 0, 11],
  ] as const) {
    const c = (d: D): CodingDraft => d.compression[coding];
    specs.push(
      [coding, one('on|off', parseSwitch, (d: D, v) => void (c(d).on = v))],
      [`${coding}_types`, many('MIME...', parseMediaRange, (d: D, v) => void (c(d).types ??= []).push(...withJs(v)))],
      [`${coding}_min_length`, one('SIZE', parseSize, (d: D, v) => void (c(d).minLength = v))],
      [`${coding}_comp_level`, one(`${min}-${max}`, levelParser(min, max), (d: D, v) => void (c(d).level = v))],
    );
  }
  return specs;
}

/** `limit_rate SIZE` and `limit_rate_after SIZE` (nginx's ngx_http_core_module), alike in server and location
 *  blocks; sizes as everywhere else (k, m, g suffixes), so a negative or unitless word is a config error. */
function rateSpecs<D extends { limitRate: RateDraft }>(): Array<[string, Spec<D>]> {
  return [
    ['limit_rate', one('SIZE', parseSize, (d: D, v) => void (d.limitRate.rate = v))],
    ['limit_rate_after', one('SIZE', parseSize, (d: D, v) => void (d.limitRate.after = v))],
  ];
}

/** The access-control directives (config/access-directives.ts), the same in server and location blocks. */
function accessSpecs<D extends { access: AccessDraft }>(): [string, Spec<D>][] {
  const rule = (allow: boolean): Spec<D> =>
    custom('ADDR|CIDR|all', 1, 1, true, (d, node, ctx) => {
      const arg = node.args[0];
      if (arg === undefined) return;
      const r = parseRule(arg, allow);
      if (r.ok) d.access.rules.push(r.value);
      else report(ctx, arg.pos, r.error);
    });
  return [
    ['allow', rule(true)],
    ['deny', rule(false)],
    ['auth_basic', one('"REALM"|off', parseRealm, (d, v) => void (d.access.realm = v))],
    [
      'auth_basic_user_file',
      custom('PATH', 1, 1, false, (d, node, ctx) => {
        const arg = node.args[0];
        if (arg !== undefined) d.access.userFile = loadUserFile(arg, ctx.dir, ctx.errors);
      }),
    ],
    ['satisfy', one('all|any', parseSatisfy, (d, v) => void (d.access.satisfyAny = v))],
    [
      'limit_req',
      custom('rate=Nr/s|Nr/m [burst=N] [nodelay]', 1, 3, false, (d, node, ctx) => {
        const r = parseLimitReq(node.args, node.pos);
        if (r.ok) d.access.limitReq = r.value;
        else report(ctx, r.error.at, r.error.message);
      }),
    ],
    [
      'limit_req_status',
      one(
        'CODE',
        (a, _c, n) => parseLimitStatus(a, n),
        (d, v) => void (d.access.limitReqStatus = v),
      ),
    ],
    [
      'limit_conn',
      custom('N', 1, 1, false, (d, node, ctx) => {
        const arg = node.args[0];
        if (arg === undefined) return;
        const r = parseLimitConn(arg, node.pos);
        if (r.ok) d.access.limitConn = r.value;
        else report(ctx, arg.pos, r.error);
      }),
    ],
    [
      'limit_conn_status',
      one(
        'CODE',
        (a, _c, n) => parseLimitStatus(a, n),
        (d, v) => void (d.access.limitConnStatus = v),
      ),
    ],
  ];
}

/**
 * `index`, `client_max_body_size` (and its older name `body_limit`), `types { }` and `default_type`, alike in
 * server and location blocks (nginx's names; a location inherits what it does not set).
 */
function contentSpecs<D extends ContentDraft>(): [string, Spec<D>][] {
  const size: Spec<D>['apply'] = (d, node, ctx) => {
    const arg = node.args[0];
    if (arg === undefined) return; // arity was checked by the walker
    if (d.bodyLimitPos !== null) {
      report(ctx, node.pos, `duplicate body size limit "${node.name}" (first at ${at(d.bodyLimitPos)})`);
      return;
    }
    const v = parseSize(arg);
    if (!v.ok) {
      report(ctx, arg.pos, v.error);
      return;
    }
    d.bodyLimit = v.value;
    d.bodyLimitPos = node.pos;
  };
  return [
    ['index', custom('NAME... [/URI]', 1, Infinity, true, applyIndex)],
    ['client_max_body_size', custom('SIZE', 1, 1, false, size)],
    ['body_limit', custom('SIZE', 1, 1, false, size)],
    ['default_type', one('MIME', parseDefaultType, (d, v) => void (d.mime.defaultType = v))],
    ['types', { usage: '', min: 0, max: 0, repeatable: true, block: true, apply: applyTypes }],
  ];
}

/** `index NAME... [/URI]`: file names tried in order under a directory URL; only the last may be absolute (nginx). */
function applyIndex(d: ContentDraft, node: DirectiveNode, ctx: Ctx): void {
  const names = (d.index ??= []);
  node.args.forEach((arg, i) => {
    const v = arg.value;
    const absolute = v.startsWith('/');
    const segs = (absolute ? v.slice(1) : v).split('/');
    let problem: string | null = null;
    if (absolute && i !== node.args.length - 1)
      problem = 'only the last name may be absolute (a URI starting with "/")';
    else if (v.includes('$')) problem = 'variables are not supported in "index"';
    else if (/[\x00-\x20\x7f?#]/.test(v)) problem = 'expected a file name, without spaces, controls, "?" or "#"';
    else if (segs.some((seg) => seg === '' || seg === '.' || seg === '..'))
      problem = 'expected a file name such as index.html (no empty, "." or ".." segment)';
    if (problem === null) names.push(v);
    else report(ctx, arg.pos, `bad index "${v}": ${problem}`);
  });
}

/** `types { MIME EXT...; ... }`: extensions added to (or changed in) the table; an empty block empties it. */
function applyTypes(d: ContentDraft, node: DirectiveNode, ctx: Ctx): void {
  const entries = node.block?.directives ?? [];
  if (entries.length === 0) {
    // nginx's `types { }` leaves no extension known, so every file gets default_type (its download idiom).
    d.mime.clear = true;
    d.mime.entries = [];
    return;
  }
  for (const e of entries) {
    if (e.block !== null) {
      report(ctx, e.block.open, `unexpected "{" in "types": an entry is MIME EXT..., as in "text/html html htm"`);
      continue;
    }
    const type = parseMediaType(e.name);
    if (type === null) {
      report(ctx, e.pos, `bad type "${e.name}" in "types": expected a media type such as text/html`);
      continue;
    }
    if (e.args.length === 0) {
      report(ctx, e.pos, `"${e.name}" in "types" lists no extension: expected MIME EXT..., as in "text/html html"`);
      continue;
    }
    for (const arg of e.args) {
      const ext = arg.value.toLowerCase();
      if (/^[a-z0-9][a-z0-9_+~-]*(?:\.[a-z0-9_+~-]+)*$/.test(ext)) d.mime.entries.push([ext, type]);
      else {
        const hint = ext.startsWith('.') ? ' (write it without the dot)' : '';
        report(ctx, arg.pos, `bad extension "${arg.value}" in "types": expected letters and digits, as in html${hint}`);
      }
    }
  }
}

/** A bare media type `type/subtype` (RFC 9110 §8.3.1), lower-cased; null when it is not one. */
function parseMediaType(v: string): string | null {
  const token = "[a-z0-9!#$%&'*+.^_`|~-]+";
  const t = v.toLowerCase();
  return new RegExp(`^${token}/${token}$`).test(t) ? t : null;
}

/** `default_type MIME`: a media type, optionally with parameters (`"text/plain; charset=latin1"`, quoted). */
function parseDefaultType(arg: ArgNode): Result<string, string> {
  const [bare = '', ...params] = arg.value.split(';');
  const type = parseMediaType(bare.trim());
  const paramsFine = params.every((p) => /^\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+=[^\s;"]+$/.test(p));
  if (type !== null && paramsFine)
    return ok(params.length === 0 ? type : [type, ...params.map((p) => p.trim())].join('; '));
  return err(`bad default_type "${arg.value}": expected a media type such as text/plain or application/octet-stream`);
}

/** nginx's realip directives (access/realip.ts), the same in server and location blocks. */
function realIpSpecs<D extends { realIp: RealIpDraft }>(): [string, Spec<D>][] {
  return [
    [
      'set_real_ip_from',
      custom('ADDR|CIDR|unix:', 1, 1, true, (d, node, ctx) => {
        const arg = node.args[0];
        if (arg === undefined) return;
        const r = parseRealIpFrom(arg);
        const from = (d.realIp.from ??= []);
        if (!r.ok) report(ctx, arg.pos, r.error);
        else if (r.value === 'unix') d.realIp.unix = true;
        else from.push(r.value);
      }),
    ],
    ['real_ip_header', one('NAME', parseRealIpHeader, (d, v) => void (d.realIp.header = v))],
    ['real_ip_recursive', one('on|off', parseSwitch, (d, v) => void (d.realIp.recursive = v))],
  ];
}

// ---------------------------------------------------------------------------------------------
// Block directives.

function applyServer(main: MainDraft, node: DirectiveNode, mainCtx: Ctx): void {
  // Errors inside a server block are the server's own: they skip it, not the whole file.
  const ctx: Ctx = { dir: mainCtx.dir, errors: [] };
  const s: ServerDraft = {
    host: null,
    ports: [],
    portPos: new Map(),
    defaultPorts: new Set(),
    listens: [],
    serverNames: [],
    root: null,
    rootPos: null,
    index: null,
    bodyLimit: null,
    bodyLimitPos: null,
    mime: { entries: [], clear: false, defaultType: null },
    errorPages: new Map(),
    errorRedirects: new Map(),
    ops: [],
    addHeaders: null,
    expires: null,
    locations: [],
    timeouts: { ...DEFAULTS.timeouts },
    sessionTimeout: DEFAULTS.sessionTimeout,
    sessionMax: DEFAULTS.sessionMax,
    sessionMaxPerAddress: DEFAULTS.sessionMaxPerAddress,
    sessionStore: MEMORY_STORE,
    accessLog: null,
    accessLogFormatName: 'combined',
    accessLogFormatPos: null,
    accessLogOptions: DEFAULT_ACCESS_LOG_OPTIONS,
    errorLog: DEFAULTS.errorLog,
    tlsDraft: { certificate: null, key: null, protocols: null, ciphers: null },
    tls: null,
    compression: { gzip: {}, brotli: {} },
    limitRate: {},
    access: { rules: [] },
    realIp: {},
    errorLogLevel: 'info',
    pos: node.pos,
    errors: ctx.errors,
  };
  const { seen, hadUnknown } = walk('server', SERVER, s, node.block?.directives ?? [], ctx, node);
  // An address comes from `listen`, or from `host` and `port` together. After an unknown directive (perhaps a
  // misspelt "host") the missing ones are not reported on top of the real mistake.
  if (seen.has('listen')) {
    for (const [d, other] of [
      ['host', 'port'],
      ['port', 'host'],
    ] as const) {
      const p = seen.get(d);
      if (p !== undefined && !seen.has(other))
        report(ctx, p, `"${d}" without "${other}": give both, or use only "listen"`);
    }
  } else if (!hadUnknown) {
    const examples = { host: 'host 127.0.0.1', port: 'port 8080' } as const;
    for (const required of ['host', 'port'] as const) {
      if (!seen.has(required)) {
        report(ctx, node.pos, `missing "${required}" in server block (required, e.g. "${examples[required]}")`);
      }
    }
  }
  // Certificates are read and checked only for a block that is otherwise sound (one mistake, one message).
  inheritRoot(s, ctx);
  const sslListen = s.listens.find((l) => l.ssl);
  if (ctx.errors.length === 0) s.tls = loadTls(s.tlsDraft, sslListen?.pos ?? null, ctx.errors);
  main.servers.push(s);
}

/** A location block with nothing set yet. */
function newLocation(path: string, match: LocationDraft['match'], mapPrefix: string, pos: SourcePos): LocationDraft {
  return {
    path,
    match,
    mapPrefix,
    ops: [],
    tryFiles: null,
    addHeaders: null,
    expires: null,
    methods: null,
    root: null,
    rootCaptures: null,
    index: null,
    bodyLimit: null,
    bodyLimitPos: null,
    mime: { entries: [], clear: false, defaultType: null },
    directoryListing: false,
    cgi: new Map(),
    cgiPos: new Map(),
    redirect: null,
    session: false,
    status: false,
    metrics: false,
    dotfiles: false,
    symlinks: 'inside-root',
    compression: { gzip: {}, brotli: {} },
    limitRate: {},
    access: { rules: [] },
    realIp: {},
    proxy: {
      pass: null,
      passPos: null,
      upstream: null,
      set: [],
      hide: new Set(),
      pass_: new Set(),
      connectTimeout: PROXY_TIMEOUT_DEFAULT,
      readTimeout: PROXY_TIMEOUT_DEFAULT,
      sendTimeout: PROXY_TIMEOUT_DEFAULT,
    },
    fastcgi: {
      pass: null,
      passPos: null,
      upstream: null,
      params: [],
      index: '',
      split: null,
      keepConn: false,
      connectTimeout: PROXY_TIMEOUT_DEFAULT,
      readTimeout: PROXY_TIMEOUT_DEFAULT,
      sendTimeout: PROXY_TIMEOUT_DEFAULT,
    },
    needsRoot: false,
    pos,
  };
}

function applyLocation(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const head = parseLocationHead(node, ctx);
  const arg = head?.pathArg ?? node.args[0];
  if (arg === undefined) return; // arity was checked by the walker
  const l = newLocation(
    head?.path ?? normaliseLocation(arg.value),
    head?.match ?? { kind: 'prefix' },
    head?.mapPrefix ?? normaliseLocation(arg.value),
    node.pos,
  );
  const { seen, hadUnknown } = walk('location', LOCATION, l, node.block?.directives ?? [], ctx, node);

  if (head === null) return; // its path or modifier was reported
  const kindOf = (m: LocationDraft['match']): string =>
    m.kind === 'regex' ? (m.regex.ignoreCase ? '~*' : '~') : m.kind;
  const twin = s.locations.find((other) => other.path === l.path && kindOf(other.match) === kindOf(l.match));
  if (twin !== undefined) {
    report(ctx, arg.pos, `duplicate location "${l.path}" (first at ${at(twin.pos)})`);
    return;
  }
  const rootPos = seen.get('root');
  const aliasPos = seen.get('alias');
  if (rootPos !== undefined && aliasPos !== undefined) {
    report(
      ctx,
      after(rootPos, aliasPos) ? rootPos : aliasPos,
      '"root" and "alias" are the same directive here: keep one',
    );
  }
  if (l.rootCaptures !== null && l.cgi.size > 0) {
    report(ctx, node.pos, `location "${l.path}" runs CGI scripts: its root cannot use captures ($1...$9)`);
  }
  if (l.rootCaptures !== null && !l.rootCaptures.whole && l.tryFiles !== null) {
    // The alias names the one file: every candidate would test it, whatever it says.
    report(ctx, node.pos, `location "${l.path}" has "try_files" and an "alias" with captures: the alias is the file`);
  }
  const fcgiPos = seen.get('fastcgi_pass');
  const clash = fcgiPos === undefined ? null : seen.has('proxy_pass') ? 'proxy_pass' : l.cgi.size > 0 ? 'cgi' : null;
  if (fcgiPos !== undefined && clash !== null) {
    report(ctx, fcgiPos, `location "${l.path}" has "fastcgi_pass" and "${clash}": a location has one gateway`);
  }
  const serves = ['root', 'alias', 'redirect', 'return', 'rewrite', 'try_files', 'proxy_pass'].some((d) => seen.has(d));
  // Without a root of its own it may still serve from its server's (read in full before this is decided).
  l.needsRoot = !serves && !l.status && !l.metrics && !hadUnknown;
  if (l.status && l.metrics) report(ctx, node.pos, `location "${l.path}" has both "status on" and "metrics on"`);
  s.locations.push(l);
}

/** A capture in a path: `$1`…`$9` or `${1}`…. */
const CAPTURE = /\$(?:[0-9]|\{[0-9]\})/;

/**
 * A location's `root DIR` (`whole`) or `alias DIR`: a directory, or in a regex location a path with its captures
 * (`alias /srv/users/$1`), confined to the directory before the first capture.
 */
function applyRoot(l: LocationDraft, node: DirectiveNode, ctx: Ctx, whole: boolean): void {
  const arg = node.args[0];
  if (arg === undefined) return; // arity was checked by the walker
  // Only a capture makes it a template: any other "$" is part of a directory name, as it always was.
  if (!CAPTURE.test(arg.value)) {
    l.root = path.resolve(ctx.dir, arg.value);
    return;
  }
  const t = compileTemplate(arg.value);
  if (!t.ok) {
    report(ctx, arg.pos, t.error.message);
    return;
  }
  const first = t.value.parts[0];
  const problem =
    l.match.kind !== 'regex'
      ? 'captures ($1...$9) need a regex location (~ or ~*)'
      : t.value.parts.some((p) => p.kind === 'var')
        ? 'only captures ($1...$9) may be used here, no other variables'
        : first?.kind !== 'text' || !first.text.includes('/')
          ? 'the path must start with a directory before its first capture, as in /srv/users/$1'
          : null;
  if (problem !== null || first?.kind !== 'text') {
    report(ctx, arg.pos, `bad "${node.name}" "${arg.value}": ${problem ?? ''}`);
    return;
  }
  const cut = first.text.lastIndexOf('/');
  const dir = path.resolve(ctx.dir, first.text.slice(0, cut + 1));
  const parts = [{ kind: 'text' as const, text: dir + '/' + first.text.slice(cut + 1) }, ...t.value.parts.slice(1)];
  l.root = dir;
  l.rootCaptures = { template: { source: arg.value, parts }, whole };
}

/** `root DIR` in a server block: nginx's meaning, the whole URI appended (a location's own root keeps the seed's). */
function applyServerRoot(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const arg = node.args[0];
  if (arg === undefined) return; // arity was checked by the walker
  if (CAPTURE.test(arg.value)) {
    report(ctx, arg.pos, `bad "root" "${arg.value}": captures ($1...$9) need a regex location (~ or ~*)`);
    return;
  }
  s.root = path.resolve(ctx.dir, arg.value);
  s.rootPos = node.pos;
}

/**
 * nginx's inheritance of a server's `root`: a location that has no root of its own and serves files serves from
 * it, with the whole URI appended (mapPrefix ""), and the URIs no location takes are served from it too, by a
 * `location /` of the server's settings added last. Without a server root, a location that serves nothing is an
 * error. Runs before the upload/CGI overlap check, which then sees every root in use.
 */
function inheritRoot(s: ServerDraft, ctx: Ctx): void {
  const root = s.root;
  for (const l of s.locations) {
    if (root === null) {
      if (l.needsRoot) {
        const detail = `location "${l.path}" has nothing to serve: it needs "root", "redirect", "proxy_pass", "status on" or "metrics on"`;
        report(ctx, l.pos, detail);
      }
    } else if (l.root === null && l.redirect === null && l.proxy.pass === null && !l.status && !l.metrics) {
      l.root = root;
      l.mapPrefix = '';
    }
    const f = l.fastcgi;
    if (
      f.pass !== null &&
      l.root === null &&
      l.proxy.pass === null &&
      !f.params.some((p) => p.name === 'SCRIPT_FILENAME')
    ) {
      const detail = `location "${l.path}" has "fastcgi_pass" but no root for its scripts: add "root" (here or in the server) or "fastcgi_param SCRIPT_FILENAME ..."`;
      report(ctx, f.passPos ?? l.pos, detail);
    }
  }
  const catchAll = s.locations.some((l) => l.path === '/' && (l.match.kind === 'prefix' || l.match.kind === 'stop'));
  if (root !== null && !catchAll && s.rootPos !== null) {
    const l = newLocation('/', { kind: 'prefix' }, '', s.rootPos);
    l.root = root;
    s.locations.push(l);
  }
}

/** Drops trailing slashes so "/files/" and "/files" are the same location; "/" stays. */
function normaliseLocation(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

// ---------------------------------------------------------------------------------------------
// Directives with several kinds of argument.

function applyErrorPage(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  if (isErrorPageUri(node, ctx.dir)) {
    // nginx's form: an internal redirect (issue 17). The later directive for a code wins over an earlier file.
    const before = new Set(s.errorRedirects.keys());
    applyErrorRedirect(s.errorRedirects, node, ctx);
    for (const code of s.errorRedirects.keys()) if (!before.has(code)) s.errorPages.delete(code);
    return;
  }
  const fileArg = node.args.at(-1);
  if (fileArg === undefined) return; // arity was checked by the walker
  const codes: number[] = [];
  for (const arg of node.args.slice(0, -1)) {
    const code = /^\d{3}$/.test(arg.value) ? Number(arg.value) : NaN;
    if (code >= 300 && code <= 599) codes.push(code);
    else report(ctx, arg.pos, `bad error_page code "${arg.value}": expected a status from 300 to 599`);
  }
  const file = path.resolve(ctx.dir, fileArg.value);
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isFile()) {
    const problem = stat === undefined ? 'does not exist' : 'is not a regular file';
    const detail = `error_page file "${fileArg.value}" ${problem} (looked for ${file})`;
    report(ctx, fileArg.pos, detail);
    return;
  }
  for (const code of codes) {
    s.errorPages.set(code, file);
    s.errorRedirects.delete(code);
  }
}

function applyCgi(l: LocationDraft, node: DirectiveNode, ctx: Ctx): void {
  const [extArg, interpArg] = node.args;
  if (extArg === undefined || interpArg === undefined) return; // arity was checked by the walker
  const ext = extArg.value.toLowerCase();
  const first = l.cgiPos.get(ext);
  if (!/^\.[^./]+$/.test(ext)) {
    report(ctx, extArg.pos, `bad cgi extension "${extArg.value}": expected a dot and a suffix, as in ".py"`);
  } else if (first !== undefined) {
    report(ctx, extArg.pos, `duplicate cgi extension "${ext}" in this location (first at ${at(first)})`);
  }
  const interpreter = findInterpreter(interpArg.value, ctx.dir);
  if (!interpreter.ok) {
    report(ctx, interpArg.pos, interpreter.error);
    return;
  }
  if (!l.cgiPos.has(ext)) {
    l.cgiPos.set(ext, extArg.pos);
    l.cgi.set(ext, interpreter.value);
  }
}

/**
 * Resolves an interpreter to an absolute executable file: a name with a slash against the
 * config's directory, a bare name through PATH (as execvp would, but once, at start).
 */
function findInterpreter(name: string, dir: string): Result<string, string> {
  if (name.includes('/')) {
    const file = path.resolve(dir, name);
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (stat === undefined) return err(`interpreter "${name}" does not exist (looked for ${file})`);
    if (!stat.isFile()) return err(`interpreter "${name}" is not a file (${file})`);
    if (!isExecutable(file)) return err(`interpreter "${name}" is not executable (${file})`);
    return ok(file);
  }
  for (const entry of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (entry === '') continue;
    const file = path.resolve(entry, name);
    if (fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true && isExecutable(file)) return ok(file);
  }
  return err(`interpreter "${name}" not found on PATH`);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `listen [ADDR:]PORT [backlog=N]`: ADDR is IPv4, `[IPv6]`, `*` or `localhost`; a bare port means every IPv4
 *  address, as in NGINX. */
function applyListen(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const [addrArg, ...params] = node.args;
  if (addrArg === undefined) return; // arity was checked by the walker
  const v = addrArg.value;
  const m = /^(?:(\[[^\]]*\]|[^:[\]]+):)?(\d{1,5})$/.exec(v);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    report(ctx, addrArg.pos, `bad listen "${v}": expected [ADDR:]PORT, e.g. 8080, 127.0.0.1:8080 or [::1]:8080`);
    return;
  }
  let host = '0.0.0.0';
  const addr = m[1];
  if (addr !== undefined && addr !== '*') {
    const parsed = parseHost({ value: addr.startsWith('[') ? addr.slice(1, -1) : addr, pos: addrArg.pos });
    if (!parsed.ok) {
      report(ctx, addrArg.pos, parsed.error);
      return;
    }
    if (parsed.value.includes(':') !== addr.startsWith('[')) {
      report(ctx, addrArg.pos, `bad listen "${v}": an IPv6 address goes in brackets, as in [::1]:8080`);
      return;
    }
    host = parsed.value;
  }
  let backlog: number = DEFAULTS.backlog;
  let ssl = false;
  let defaultServer = false;
  for (const p of params) {
    const b = /^backlog=(\d+)$/.exec(p.value);
    const n = b === null ? NaN : Number(b[1]);
    if (p.value === 'ssl') ssl = true;
    else if (p.value === 'default_server') defaultServer = true;
    else if (b !== null && Number.isSafeInteger(n) && n >= 1) backlog = n;
    else report(ctx, p.pos, `bad listen parameter "${p.value}": expected ssl, default_server or backlog=N`);
  }
  const twin = s.listens.find((l) => l.host === host && l.port === port);
  if (twin !== undefined) {
    report(ctx, addrArg.pos, `duplicate listen ${addressText(host, port)} in this server (first at ${at(twin.pos)})`);
    return;
  }
  s.listens.push({ host, port, backlog, ssl, defaultServer, pos: addrArg.pos });
}

/** `port N... [default_server]`: the seed's form, with nginx's `default_server` for every port it lists. */
function applyPort(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const last = node.args.at(-1);
  const isDefault = last?.value === 'default_server' && node.args.length > 1;
  const ports = isDefault ? node.args.slice(0, -1) : node.args;
  for (const arg of ports) {
    const v = parsePort(arg);
    const problem = v.ok ? addPort(s, v.value, arg) : v.error;
    if (problem !== undefined) report(ctx, arg.pos, problem);
    else if (v.ok && isDefault) s.defaultPorts.add(v.value);
  }
}

function addPort(s: ServerDraft, port: number, arg: ArgNode): string | undefined {
  const first = s.portPos.get(port);
  if (first !== undefined) return `port ${port} is listed twice in this server (first at ${at(first)})`;
  s.portPos.set(port, arg.pos);
  s.ports.push(port);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Value parsers.

function parseHost(arg: ArgNode): Result<string, string> {
  const v = arg.value;
  if (v.toLowerCase() === 'localhost') return ok('127.0.0.1');
  const family = isIP(v);
  if (family === 4) return ok(v);
  if (family === 6) return ok(normaliseIPv6(v));
  return err(`bad host "${v}": expected an IPv4 or IPv6 address, or localhost (names go in server_name)`);
}

/** Canonical IPv6 text ("0:0::1" → "::1") so equal addresses compare equal; zone ids kept as written. */
function normaliseIPv6(v: string): string {
  if (v.includes('%')) return v;
  try {
    return new URL(`http://[${v}]/`).hostname.slice(1, -1);
  } catch {
    return v;
  }
}

function parsePort(arg: ArgNode): Result<number, string> {
  const n = /^\d{1,5}$/.test(arg.value) ? Number(arg.value) : NaN;
  if (n >= 1 && n <= 65535) return ok(n);
  return err(`bad port "${arg.value}": expected an integer from 1 to 65535`);
}

function parseServerName(arg: ArgNode): Result<string, string> {
  if (arg.value.startsWith('~')) {
    const p = namePattern(arg.value); // a regex is kept as written (nginx matches it against the lower-cased Host)
    return typeof p === 'string' ? err(p) : ok(arg.value);
  }
  if (/[\s/]/.test(arg.value)) return err(`bad server_name "${arg.value}": expected a host name such as example.com`);
  const p = namePattern(arg.value.toLowerCase());
  if (typeof p === 'string') return err(p);
  return ok(arg.value.toLowerCase()); // host names are case-insensitive (RFC 9110 §4.2.3)
}

const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['k', 1024],
  ['m', 1024 ** 2],
  ['g', 1024 ** 3],
]);

/** `SIZE`: bytes with an optional k, m or g suffix (powers of 1024, as NGINX). */
function parseSize(arg: ArgNode): Result<number, string> {
  const m = /^(\d+)([kmg]?)$/i.exec(arg.value);
  const unit = SIZE_UNITS.get((m?.[2] ?? '').toLowerCase());
  const bytes = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
  if (Number.isSafeInteger(bytes)) return ok(bytes);
  return err(`bad size "${arg.value}": expected bytes with an optional k, m or g suffix, e.g. 10m`);
}

const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
]);

/** `DURATION` in NGINX's syntax: `500ms`, `10s`, `2m`, `1h`, `1m30s`; a bare number is seconds. Result in ms. */
function parseDuration(arg: ArgNode): Result<number, string> {
  const v = arg.value;
  let ms = /^\d+$/.test(v) ? Number(v) * 1000 : NaN;
  if (Number.isNaN(ms) && /^(\d+(ms|[dhms]))+$/.test(v)) {
    ms = 0;
    let lastUnit = Infinity;
    for (const [, num, unit] of v.matchAll(/(\d+)(ms|[dhms])/g)) {
      const size = DURATION_UNITS.get(unit ?? '') ?? NaN;
      if (size >= lastUnit) ms = NaN; // units must go from largest to smallest, each once
      lastUnit = size;
      ms += Number(num) * size;
    }
  }
  if (!Number.isSafeInteger(ms)) {
    return err(`bad duration "${v}": expected a time such as 500ms, 10s, 2m or 1h (a bare number is seconds)`);
  }
  if (ms === 0) return err(`bad duration "${v}": expected a time greater than 0`);
  return ok(ms);
}

/** keepalive_timeout: a duration, or 0, which turns keep-alive off (nginx: every response closes). */
function parseKeepalive(arg: ArgNode): Result<number, string> {
  return /^0+(ms|[dhms])?$/.test(arg.value) ? ok(0) : parseDuration(arg);
}

function parseCount(arg: ArgNode, _ctx: Ctx, directive: string): Result<number, string> {
  const n = /^\d+$/.test(arg.value) ? Number(arg.value) : NaN;
  if (Number.isSafeInteger(n) && n >= 1) return ok(n);
  return err(`bad ${directive} "${arg.value}": expected an integer of at least 1`);
}

function parseSwitch(arg: ArgNode, _ctx: Ctx, directive: string): Result<boolean, string> {
  const v = arg.value.toLowerCase();
  if (v === 'on' || v === 'off') return ok(v === 'on');
  return err(`bad value "${arg.value}" for "${directive}": expected on or off`);
}

/** RFC 9239 §3's obsolete names of JavaScript: an nginx config's `gzip_types application/javascript` goes on
 *  compressing .js, which we send as text/javascript. */
const JS_ALIASES: ReadonlySet<string> = new Set([
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/x-ecmascript',
  'text/x-javascript',
  'text/ecmascript',
  'text/x-ecmascript',
]);

/** A gzip_types/brotli_types entry, with text/javascript beside an obsolete name of it. */
function withJs(v: string): string[] {
  return JS_ALIASES.has(v) ? [v, 'text/javascript'] : [v];
}

/** `type/subtype`, `type/*` or `*` (RFC 9110 §8.3.1 token syntax), lower-cased: media types are case-insensitive. */
function parseMediaRange(arg: ArgNode, _ctx: Ctx, directive: string): Result<string, string> {
  const v = arg.value.toLowerCase();
  const token = "[a-z0-9!#$%&'*+.^_`|~-]+";
  if (v === '*' || new RegExp(`^${token}/${token}$`).test(v)) return ok(v);
  return err(`bad ${directive} "${arg.value}": expected a media type such as text/css, a range such as text/*, or *`);
}

/** An integer compression level from `min` to `max`. */
function levelParser(min: number, max: number): ValueParser<number> {
  return (arg, _ctx, directive) => {
    const n = /^\d{1,2}$/.test(arg.value) ? Number(arg.value) : NaN;
    if (n >= min && n <= max) return ok(n);
    return err(`bad ${directive} "${arg.value}": expected an integer from ${min} to ${max}`);
  };
}

function parseTransport(arg: ArgNode): Result<TransportName, string> {
  const v = arg.value.toLowerCase();
  if (v === 'native' || v === 'node') return ok(v);
  return err(`bad value "${arg.value}" for "transport": expected native or node`);
}

/** Most worker processes: far above any core count this server is meant for, low enough to catch a typo. */
const MAX_WORKERS = 256;

/** `worker_processes N|auto`: auto is the number of CPUs this process may run on (nginx's meaning). */
function parseWorkers(arg: ArgNode): Result<number, string> {
  if (arg.value.toLowerCase() === 'auto') return ok(Math.min(MAX_WORKERS, Math.max(1, os.availableParallelism())));
  const n = /^\d+$/.test(arg.value) ? Number(arg.value) : NaN;
  if (Number.isSafeInteger(n) && n >= 1 && n <= MAX_WORKERS) return ok(n);
  return err(`bad value "${arg.value}" for "worker_processes": expected auto or an integer from 1 to ${MAX_WORKERS}`);
}

/** Registered methods (RFC 9110 §9, RFC 5789, RFC 4918) that a lower-case spelling is a typo of. */
const REGISTERED_METHODS: ReadonlySet<string> = new Set(
  'GET HEAD POST PUT DELETE PATCH OPTIONS PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK REPORT SEARCH'.split(' '),
);

/** `methods`: any token (PUT, PATCH, PROPFIND...); TRACE and CONNECT are never served. */
function parseMethod(arg: ArgNode): Result<Method, string> {
  const v = arg.value;
  if (!isToken(v)) return err(`bad method "${v}": expected a token such as GET, PUT or PROPFIND`);
  if (v === 'TRACE') return err('"TRACE" cannot be allowed: it would echo credentials back (RFC 9110 §9.3.8)');
  if (v === 'CONNECT') return err('"CONNECT" cannot be allowed: this server does not tunnel (RFC 9110 §9.3.6)');
  // Method names are case-sensitive (RFC 9110 §9.1), so "get" is not GET.
  const upper = v.toUpperCase();
  if (upper !== v && REGISTERED_METHODS.has(upper)) {
    return err(`unknown method "${v}": methods are case-sensitive, write ${upper}`);
  }
  return ok(v);
}

function parseDotfiles(arg: ArgNode): Result<boolean, string> {
  if (arg.value === 'allow' || arg.value === 'deny') return ok(arg.value === 'allow');
  return err(`bad value "${arg.value}" for "dotfiles": expected allow or deny`);
}

function parseSymlinks(arg: ArgNode, ctx: Ctx, directive: string): Result<SymlinkPolicy, string> {
  const on = parseSwitch(arg, ctx, directive);
  return on.ok ? ok(on.value ? 'none' : 'follow') : on;
}

/** The one argument of a path directive, with its path resolved against the configuration's directory. */
function pathArg(node: DirectiveNode, ctx: Ctx): ArgNode | null {
  const arg = node.args[0];
  return arg === undefined ? null : { value: path.resolve(ctx.dir, arg.value), pos: arg.pos };
}

function parsePath(arg: ArgNode, ctx: Ctx): Result<string, string> {
  return ok(path.resolve(ctx.dir, arg.value));
}

function parseFileName(arg: ArgNode): Result<string, string> {
  const v = arg.value;
  if (!v.includes('/') && v !== '.' && v !== '..') return ok(v);
  return err(`bad default_file "${v}": expected a file name without "/", e.g. index.html`);
}

function parseRedirect(arg: ArgNode): Result<string, string> {
  const v = arg.value;
  // The value becomes a Location header: no spaces or controls (RFC 9110 §10.2.2, §5.5).
  const fine = (v.startsWith('/') || /^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(v)) && !/[\s\x00-\x1f\x7f]/.test(v);
  if (fine) return ok(v);
  return err(`bad redirect "${v}": expected a path starting with "/" or an absolute URL such as https://example.com/`);
}

/** `log_format NAME [escape=default|json|none] STRING...`: the strings are joined, as nginx does. */
function applyLogFormat(m: MainDraft, node: DirectiveNode, ctx: Ctx): void {
  const [nameArg, ...rest] = node.args;
  if (nameArg === undefined) return; // arity was checked by the walker
  let escape: LogEscape = 'default';
  const esc = /^escape=(.*)$/.exec(rest[0]?.value ?? '');
  if (esc !== null) {
    const v = esc[1];
    if (v !== 'default' && v !== 'json' && v !== 'none') {
      report(ctx, rest[0]?.pos ?? node.pos, `bad log_format escape "${v ?? ''}": expected default, json or none`);
      return;
    }
    escape = v;
    rest.shift();
  }
  const first = rest[0];
  if (first === undefined) {
    report(ctx, node.pos, `"log_format ${nameArg.value}" has no format string`);
    return;
  }
  const name = nameArg.value;
  if (m.logFormats.has(name)) {
    const where = m.logFormatPos.get(name);
    report(ctx, nameArg.pos, `duplicate log_format "${name}"${where ? ` (first at ${at(where)})` : ' (predefined)'}`);
    return;
  }
  const compiled = compileLogFormat(name, escape, rest.map((a) => a.value).join(''));
  if (!compiled.ok) {
    report(ctx, first.pos, compiled.error);
    return;
  }
  m.logFormats.set(name, compiled.value);
  m.logFormatPos.set(name, nameArg.pos);
}

function applyAccessLog(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const [target, ...rest] = node.args;
  if (target === undefined) return; // arity was checked by the walker
  const v = parseAccessLog(target, ctx);
  if (!v.ok) return;
  s.accessLog = v.value;
  const format = rest[0];
  if (format !== undefined && !format.value.includes('=') && format.value !== 'gzip') {
    s.accessLogFormatName = format.value;
    s.accessLogFormatPos = format.pos;
    rest.shift();
  }
  let { buffer, flushMs, condition } = DEFAULT_ACCESS_LOG_OPTIONS;
  for (const arg of rest) {
    const eq = arg.value.indexOf('=');
    const key = eq < 0 ? arg.value : arg.value.slice(0, eq);
    const value: ArgNode = { ...arg, value: arg.value.slice(eq + 1) };
    let problem: string | null = null;
    if (key === 'gzip') problem = 'access_log: gzip is not supported; compress the rotated files instead';
    else if (eq < 0)
      problem = `access_log: "${arg.value}" is not a parameter (buffer=, flush=, if=); the format goes first`;
    else if (key === 'buffer') {
      const size = parseSize(value);
      if (!size.ok) problem = size.error;
      else if (size.value === 0) problem = 'access_log: buffer= must be greater than 0';
      else buffer = size.value;
    } else if (key === 'flush') {
      const ms = parseDuration(value);
      if (ms.ok) flushMs = ms.value;
      else problem = ms.error;
    } else if (key === 'if') {
      // The same variables as log_format; "" and "0" mean "do not log" (nginx's ngx_http_log_module).
      const c = compileLogFormat('if', 'none', value.value, 'access_log if=');
      if (c.ok && value.value !== '') condition = c.value;
      else problem = c.ok ? 'access_log: if= needs a condition, such as if=$http_x_log' : c.error;
    } else problem = `access_log: unknown parameter "${key}=" (buffer=, flush=, if=)`;
    if (problem !== null) report(ctx, arg.pos, problem);
  }
  s.accessLogOptions = { buffer, flushMs, condition };
}

/** `access_log` without buffer=, flush= or if=: 64 KiB held at most a second, every request logged. */
const DEFAULT_ACCESS_LOG_OPTIONS: AccessLogOptions = { buffer: 64 * 1024, flushMs: 1000, condition: null };

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'notice', 'warn', 'error', 'crit'];

function applySessionStore(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const r = parseSessionStore(node.args.map((a) => a.value));
  if (r.ok) s.sessionStore = r.value;
  else report(ctx, (node.args[0] ?? node).pos, r.error);
}

function applyErrorLog(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const [target, level] = node.args;
  if (target === undefined) return; // arity was checked by the walker
  if (level !== undefined) {
    const l = LOG_LEVELS.find((x) => x === level.value);
    if (l === undefined) {
      report(ctx, level.pos, `bad error_log level "${level.value}": expected ${LOG_LEVELS.join(', ')}`);
      return;
    }
    s.errorLogLevel = l;
  }
  s.errorLog = target.value === 'stderr' ? 'stderr' : path.resolve(ctx.dir, target.value);
}

function parseAccessLog(arg: ArgNode, ctx: Ctx): Result<string | null, string> {
  if (arg.value === 'off') return ok(null);
  if (arg.value === 'stdout') return ok('stdout');
  return ok(path.resolve(ctx.dir, arg.value));
}

// ---------------------------------------------------------------------------------------------
// Whole-config checks and the final shapes.

/** The addresses of a server draft: `host` × each `port`, then every `listen`. */
function listensOf(s: ServerDraft): Listen[] {
  const fromPorts: Listen[] = [];
  if (s.host !== null) {
    for (const port of s.ports) {
      const pos = s.portPos.get(port) ?? s.pos;
      if (!s.listens.some((l) => l.host === s.host && l.port === port))
        fromPorts.push({
          host: s.host,
          port,
          backlog: DEFAULTS.backlog,
          ssl: false,
          defaultServer: s.defaultPorts.has(port),
          pos,
        });
    }
  }
  // `port N default_server` also marks a `listen` of the same address (the port's own entry was left out above).
  const marked = s.listens.map((l) =>
    !l.defaultServer && l.host === s.host && s.defaultPorts.has(l.port) ? { ...l, defaultServer: true } : l,
  );
  return [...fromPorts, ...marked];
}

/**
 * Two servers answering the same host:port for the same server_name (or both without one) cannot be told apart:
 * the later one is skipped. Servers already broken are left out, so one mistake is reported once.
 */
function checkServerClashes(servers: readonly ServerDraft[]): void {
  const owners = new Map<string, ServerDraft>();
  for (const s of servers) {
    if (s.errors.length > 0) continue;
    const names = s.serverNames.length > 0 ? s.serverNames : [''];
    const claimed: string[] = [];
    let clash: string | null = null;
    for (const l of listensOf(s)) {
      for (const name of names) {
        const key = `${l.host} ${l.port} ${name}`;
        const other = owners.get(key);
        if (other === undefined || other === s) {
          claimed.push(key);
        } else if (clash === null) {
          const which = name === '' ? 'without server_name' : `with server_name "${name}"`;
          clash = `duplicate server for ${addressText(l.host, l.port)} ${which}: the server at ${at(other.pos)} already answers it`;
        }
      }
    }
    if (clash !== null) s.errors.push(new ConfigError(s.pos, clash));
    else for (const key of claimed) owners.set(key, s);
  }
}

/** Whether sockets bound for `a` and `b` (same port) would be one: the same address, or a wildcard and an address
 *  of its family. */
function sameSocket(a: Listen, b: Listen): boolean {
  if (a.port !== b.port) return false;
  const wild = (h: string): boolean => h === '0.0.0.0' || h === '::';
  return a.host === b.host || ((wild(a.host) || wild(b.host)) && a.host.includes(':') === b.host.includes(':'));
}

/**
 * One socket speaks TLS or plain HTTP, not both: a server whose address would share a socket with another's
 * and disagrees on `ssl` is skipped (the later in the file), as nginx refuses such listens.
 */
function checkTlsAgreement(servers: readonly ServerDraft[]): void {
  const seen: { s: ServerDraft; l: Listen }[] = [];
  for (const s of servers) {
    if (s.errors.length > 0) continue;
    const mine = listensOf(s);
    const other = [...seen, ...mine.map((l) => ({ s, l }))];
    const clash = mine
      .map((l) => ({ l, o: other.find((x) => x.l !== l && sameSocket(x.l, l) && x.l.ssl !== l.ssl) }))
      .find((x) => x.o !== undefined);
    if (clash?.o !== undefined) {
      const { l, o } = clash;
      const kind = (x: Listen): string => (x.ssl ? 'TLS (ssl)' : 'plain HTTP');
      const detail =
        `${addressText(l.host, l.port)} is ${kind(l)} here but ${kind(o.l)} at ${at(o.l.pos)}: ` +
        `one socket cannot carry both; use another port`;
      s.errors.push(new ConfigError(l.pos, detail));
      continue;
    }
    for (const l of mine) seen.push({ s, l });
  }
}

/** One location's filesystem root, for the upload/CGI overlap check. */
interface RootUse {
  readonly server: ServerDraft;
  readonly location: LocationDraft;
  /** The root with symlinks resolved where it exists. */
  readonly real: string;
}

/** True when `a` is `b` or lies inside it. */
function within(a: string, b: string): boolean {
  return a === b || a.startsWith(b.endsWith('/') ? b : b + '/');
}

/** The real path of `p`, or of its nearest existing ancestor plus the rest (roots may not exist yet). */
function realPathOf(p: string): string {
  let rest = '';
  for (let d = p; ; d = path.dirname(d)) {
    try {
      return path.join(fs.realpathSync.native(d), rest);
    } catch {
      if (path.dirname(d) === d) return p;
      rest = path.join(path.basename(d), rest);
    }
  }
}

/**
 * Nothing uploaded can ever run (docs/ARCHITECTURE.md "Security rules"): no location that stores uploads (`methods` with POST, no `cgi`) may
 * have a root inside, or containing, the root of a location that runs CGI, in any server. The later of the two
 * (in file order) costs its server its place.
 */
function checkUploadsCannotRun(servers: readonly ServerDraft[]): void {
  const uploads: RootUse[] = [];
  const scripts: RootUse[] = [];
  for (const server of servers) {
    for (const location of server.locations) {
      if (location.root === null) continue;
      const use = { server, location, real: realPathOf(location.root) };
      if (location.cgi.size > 0 || location.fastcgi.pass !== null) scripts.push(use);
      else if (location.methods?.has('POST') === true) uploads.push(use);
    }
  }
  const later = (a: RootUse, b: RootUse): RootUse => (after(a.location.pos, b.location.pos) ? a : b);
  for (const up of uploads) {
    for (const cgi of scripts) {
      if (!within(up.real, cgi.real) && !within(cgi.real, up.real)) continue;
      const last = later(up, cgi);
      if (last.server.errors.length > 0) continue;
      const other = last === up ? cgi : up;
      const kind = cgi.location.cgi.size > 0 ? 'CGI' : 'FastCGI';
      const mine =
        last === up ? `stores uploads in ${up.location.root}` : `runs ${kind} scripts from ${cgi.location.root}`;
      const theirs = last === up ? `the ${kind} root ${cgi.location.root}` : `the upload root ${up.location.root}`;
      const detail =
        `location "${last.location.path}" ${mine}, which overlaps ${theirs} of location "${other.location.path}" ` +
        `at ${at(other.location.pos)}: an uploaded file could be run as a script; give uploads a directory of their own`;
      last.server.errors.push(new ConfigError(last.location.pos, detail));
    }
  }
}

function after(a: SourcePos, b: SourcePos): boolean {
  return a.line > b.line || (a.line === b.line && a.col > b.col);
}

function freezeServer(s: ServerDraft, formats: ReadonlyMap<string, LogFormat>): ServerConfig {
  const access = mergePolicy(s.access, OPEN_POLICY);
  const realIp = mergeRealIp(s.realIp, null, {});
  return {
    listens: listensOf(s),
    serverNames: s.serverNames,
    bodyLimit: s.bodyLimit ?? DEFAULTS.bodyLimit,
    errorPages: s.errorPages,
    locations: s.locations.map((l) => freezeLocation(l, s, access, mergeRealIp(l.realIp, realIp, s.realIp))),
    errorRedirects: s.errorRedirects,
    ops: s.ops,
    addHeaders: s.addHeaders ?? [],
    expires: s.expires,
    access,
    limitRate: freezeRate(s.limitRate, {}),
    realIp,
    timeouts: s.timeouts,
    sessionTimeout: s.sessionTimeout,
    sessionMax: s.sessionMax,
    sessionMaxPerAddress: s.sessionMaxPerAddress,
    sessionStore: s.sessionStore,
    accessLog: s.accessLog,
    accessLogFormat: formats.get(s.accessLogFormatName) ?? COMBINED,
    accessLogOptions: s.accessLogOptions,
    errorLog: s.errorLog,
    tls: s.tls,
    errorLogLevel: s.errorLogLevel,
    pos: s.pos,
  };
}

function freezeLocation(
  l: LocationDraft,
  s: ServerDraft,
  serverAccess: ServerConfig['access'],
  realIp: LocationConfig['realIp'],
): LocationConfig {
  // nginx's inheritance: `types` entries go over the server's unless the location empties its table.
  const clear = l.mime.clear || s.mime.clear;
  const entries = l.mime.clear ? l.mime.entries : [...s.mime.entries, ...l.mime.entries];
  const defaultType = l.mime.defaultType ?? s.mime.defaultType ?? DEFAULT_CONTENT_TYPE;
  return {
    path: l.path,
    methods: l.methods,
    root: l.root,
    rootCaptures: l.rootCaptures,
    index: l.index ?? s.index ?? [],
    bodyLimit: l.bodyLimit ?? s.bodyLimit ?? DEFAULTS.bodyLimit,
    mime: mimeTable(entries, clear, defaultType),
    directoryListing: l.directoryListing,
    cgi: l.cgi,
    redirect: l.redirect,
    session: l.session,
    status: l.status,
    metrics: l.metrics,
    dotfiles: l.dotfiles,
    symlinks: l.symlinks,
    compression: freezeCompression(COMPRESSION_DEFAULTS, s.compression, l.compression),
    match: l.match,
    mapPrefix: l.mapPrefix,
    ops: l.ops,
    tryFiles: l.tryFiles,
    addHeaders: l.addHeaders,
    expires: l.expires,
    access: mergePolicy(l.access, serverAccess),
    limitRate: freezeRate(l.limitRate, s.limitRate),
    realIp,
    proxy: freezeProxy(l.proxy),
    fastcgi: freezeFastcgi(l.fastcgi),
    pos: l.pos,
  };
}

/** A block's rate limit: each directive its own, else the enclosing block's, else none (nginx's inheritance; a
 *  location's `limit_rate 0` lifts its server's limit). */
function freezeRate(own: RateDraft, outer: RateDraft): RateLimit {
  const rate = own.rate ?? outer.rate ?? NO_RATE_LIMIT.rate;
  const after = own.after ?? outer.after ?? NO_RATE_LIMIT.after;
  return rate === NO_RATE_LIMIT.rate ? NO_RATE_LIMIT : { rate, after };
}

/** A location's compression: its own directives, else its server's, else the defaults (nginx's inheritance). */
function freezeCompression(
  base: CompressionConfig,
  server: CompressionDraft,
  own: CompressionDraft,
): CompressionConfig {
  const coding = (b: CodingConfig, s: CodingDraft, o: CodingDraft): CodingConfig => ({
    on: o.on ?? s.on ?? b.on,
    types: o.types ?? s.types ?? b.types,
    minLength: o.minLength ?? s.minLength ?? b.minLength,
    level: o.level ?? s.level ?? b.level,
  });
  return { gzip: coding(base.gzip, server.gzip, own.gzip), brotli: coding(base.brotli, server.brotli, own.brotli) };
}

function freezeProxy(p: ProxyDraft): LocationConfig['proxy'] {
  if (p.pass === null) return null;
  return {
    pass: p.pass,
    upstream: p.upstream ?? singleUpstream(p.pass),
    setHeaders: mergeHeaderSettings(p.set),
    hideHeaders: p.hide,
    passHeaders: p.pass_,
    connectTimeout: p.connectTimeout,
    readTimeout: p.readTimeout,
    sendTimeout: p.sendTimeout,
  };
}

function applyProxyPass(l: LocationDraft, node: DirectiveNode, ctx: Ctx): void {
  const arg = node.args[0];
  if (arg === undefined) return; // arity was checked by the walker
  const r = parseProxyPass(arg.value);
  if (!r.ok) {
    report(ctx, arg.pos, r.error);
    return;
  }
  l.proxy.pass = r.value;
  l.proxy.passPos = arg.pos;
}

/** `fastcgi_pass ...` (config/fastcgi.ts). */
function applyFastcgiPass(l: LocationDraft, node: DirectiveNode, ctx: Ctx): void {
  const arg = node.args[0];
  if (arg === undefined) return; // arity was checked by the walker
  const r = parseFastcgiPass(arg.value);
  if (!r.ok) {
    report(ctx, arg.pos, r.error);
    return;
  }
  l.fastcgi.pass = r.value;
  l.fastcgi.passPos = arg.pos;
}

/** `fastcgi_param NAME VALUE [if_not_empty]`: a later one of the same name replaces the earlier. */
function applyFastcgiParam(l: LocationDraft, node: DirectiveNode, ctx: Ctx): void {
  const [name, value, flag] = node.args;
  if (name === undefined || value === undefined) return; // arity was checked by the walker
  const n = parseParamName(name.value);
  if (!n.ok) {
    report(ctx, name.pos, n.error);
    return;
  }
  const t = parseParamValue(value.value);
  if (!t.ok) {
    report(ctx, value.pos, `bad value for "fastcgi_param ${n.value}": ${t.error}`);
    return;
  }
  if (flag !== undefined && flag.value !== 'if_not_empty') {
    report(ctx, flag.pos, `bad "fastcgi_param" flag "${flag.value}": expected if_not_empty`);
    return;
  }
  const param: FastcgiParam = { name: n.value, value: t.value, ifNotEmpty: flag !== undefined };
  const i = l.fastcgi.params.findIndex((p) => p.name === n.value);
  if (i >= 0) l.fastcgi.params[i] = param;
  else l.fastcgi.params.push(param);
}

function freezeFastcgi(f: FastcgiDraft): FastcgiConfig | null {
  const pass = f.pass;
  if (pass === null) return null;
  const upstream = f.upstream;
  if (upstream === null) return null; // an unknown upstream name was reported and the server skipped
  return {
    upstream,
    params: f.params,
    index: f.index,
    splitPathInfo: f.split,
    keepConn: f.keepConn,
    connectTimeout: f.connectTimeout,
    readTimeout: f.readTimeout,
    sendTimeout: f.sendTimeout,
  };
}

/**
 * `proxy_pass http://NAME` and `fastcgi_pass NAME` name an upstream block, which may come later in the file. Every
 * `fastcgi_pass ADDR` of one address shares one upstream, so one pool: an idle kept connection holds a php-fpm
 * child, and pools per location could hold them all while another location waits (README "FastCGI").
 */
function resolveUpstreams(main: MainDraft): void {
  const byAddress = new Map<string, UpstreamConfig>();
  for (const s of main.servers) {
    for (const l of s.locations) {
      const f = l.fastcgi.pass;
      if (f?.kind === 'address') {
        const u = f.upstream;
        const shared = byAddress.get(u.name) ?? { ...u, keepalive: FASTCGI_DEFAULT_KEEPALIVE };
        byAddress.set(u.name, shared);
        l.fastcgi.upstream = shared;
      } else if (f?.kind === 'upstream') {
        const u = main.upstreams.get(f.name);
        if (u !== undefined) l.fastcgi.upstream = u;
        else {
          const pos = l.fastcgi.passPos ?? l.pos;
          s.errors.push(new ConfigError(pos, `unknown upstream "${f.name}": no "upstream ${f.name} { ... }" block`));
        }
      }
      const name = l.proxy.pass?.upstreamName ?? null;
      if (name === null) continue;
      const u = main.upstreams.get(name);
      if (u !== undefined) l.proxy.upstream = u;
      else {
        const pos = l.proxy.passPos ?? l.pos;
        s.errors.push(new ConfigError(pos, `unknown upstream "${name}": no "upstream ${name} { ... }" block`));
      }
    }
  }
}

/** `upstream NAME { server ADDR:PORT [weight=N] [max_fails=N] [fail_timeout=T] [backup]; keepalive N; }`. */
function applyUpstream(main: MainDraft, node: DirectiveNode, ctx: Ctx): void {
  const arg = node.args[0];
  if (arg === undefined) return; // arity was checked by the walker
  const name = arg.value;
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
    report(ctx, arg.pos, `bad upstream name "${name}"`);
    return;
  }
  const first = main.upstreams.get(name);
  if (first !== undefined) {
    report(ctx, arg.pos, `duplicate upstream "${name}" (first at ${at(first.pos)})`);
    return;
  }
  const servers: UpstreamServer[] = [];
  let keepalive = 0;
  for (const d of node.block?.directives ?? []) {
    if (d.block !== null) {
      report(ctx, d.block.open, `unexpected "{": "${d.name}" is not a block directive`);
      continue;
    }
    if (d.name === 'keepalive' && d.args.length === 1 && d.args[0] !== undefined) {
      const n = parseCount(d.args[0], ctx, 'keepalive');
      if (n.ok) keepalive = n.value;
      else report(ctx, d.args[0].pos, n.error);
    } else if (d.name === 'server' && d.args.length >= 1) {
      const server = parseUpstreamServer(d, ctx);
      if (server !== null) servers.push(server);
    } else if (d.name === 'server' || d.name === 'keepalive') {
      report(
        ctx,
        d.pos,
        `"${d.name}" takes ${d.name === 'server' ? 'ADDR:PORT [weight=N] [max_fails=N] [fail_timeout=T] [backup]' : 'N'}`,
      );
    } else {
      report(ctx, d.pos, `unknown directive "${d.name}" in an upstream block: expected "server" or "keepalive"`);
    }
  }
  if (servers.length === 0) report(ctx, node.pos, `upstream "${name}" has no "server"`);
  main.upstreams.set(name, { name, servers, keepalive, pos: node.pos });
}

function parseUpstreamServer(d: DirectiveNode, ctx: Ctx): UpstreamServer | null {
  const [addrArg, ...params] = d.args;
  if (addrArg === undefined) return null;
  const a = parseAddress(addrArg.value);
  if (!a.ok) {
    report(ctx, addrArg.pos, `bad upstream server "${addrArg.value}": ${a.error}; expected ADDR:PORT or unix:/PATH`);
    return null;
  }
  let weight = 1;
  let maxFails = 1;
  let failTimeout = 10_000;
  let backup = false;
  for (const p of params) {
    const [key, value] = p.value.split('=', 2);
    const v = { value: value ?? '', pos: p.pos };
    const r =
      key === 'weight'
        ? parseCount(v, ctx, 'weight')
        : key === 'max_fails'
          ? /^\d+$/.test(v.value)
            ? ok(Number(v.value))
            : err(`bad max_fails "${v.value}": expected an integer`)
          : key === 'fail_timeout'
            ? parseDuration(v)
            : key === 'backup' && value === undefined
              ? ok(1)
              : err(`unknown server parameter "${p.value}": expected weight=N, max_fails=N, fail_timeout=T or backup`);
    if (!r.ok) {
      report(ctx, p.pos, r.error);
      return null;
    }
    if (key === 'weight') weight = r.value;
    else if (key === 'max_fails') maxFails = r.value;
    else if (key === 'fail_timeout') failTimeout = r.value;
    else backup = true;
  }
  const text = addrArg.value;
  return { address: a.value.address, text, hostHeader: a.value.hostHeader, weight, maxFails, failTimeout, backup };
}

function parseFieldName(arg: ArgNode, _ctx: Ctx, directive: string): Result<string, string> {
  if (isToken(arg.value)) return ok(arg.value.toLowerCase());
  return err(`bad header name "${arg.value}" for "${directive}": expected a field name such as X-Powered-By`);
}

function applyProxySetHeader(l: LocationDraft, node: DirectiveNode, ctx: Ctx): void {
  const [name, value] = node.args;
  if (name === undefined || value === undefined) return; // arity was checked by the walker
  const n = parseFieldName(name, ctx, node.name);
  if (!n.ok) {
    report(ctx, name.pos, n.error);
    return;
  }
  const t = parseTemplate(value.value);
  if (!t.ok) {
    report(ctx, value.pos, `bad value for "proxy_set_header ${name.value}": ${t.error}`);
    return;
  }
  const setting = { name: n.value, display: name.value, value: t.value };
  const i = l.proxy.set.findIndex((s) => s.name === n.value);
  if (i >= 0) l.proxy.set[i] = setting;
  else l.proxy.set.push(setting);
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

const at = (pos: SourcePos): string => `${pos.line}:${pos.col}`;

/** `host:port` with brackets for IPv6. */
const addressText = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

function report(ctx: Ctx, pos: SourcePos, detail: string): void {
  ctx.errors.push(new ConfigError(pos, detail));
}

/** The closest candidate within a small edit distance (2, or 1 for short names), or null. */
function nearest(name: string, candidates: readonly string[]): string | null {
  const limit = name.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
export function editDistance(a: string, b: string): number {
  // One flat row-major table of (a.length + 1) × (b.length + 1) cells.
  const width = b.length + 1;
  const t = new Int32Array((a.length + 1) * width);
  const cell = (i: number, j: number): number => t[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) t[i * width] = i;
  for (let j = 0; j <= b.length; j++) t[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(cell(i - 1, j) + 1, cell(i, j - 1) + 1, cell(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, cell(i - 2, j - 2) + 1);
      t[i * width + j] = d;
    }
  }
  return cell(a.length, b.length);
}
