/**
 * Validator (DESIGN §3): walks the untyped tree from parser.ts and builds the typed Config.
 * Each block's directives live in a table (name → arity, value parser, setter), so adding a
 * directive is one line in the table.
 */
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { ConfigError } from './errors.js';
import type { ArgNode, DirectiveNode } from './parser.js';
import { sortErrors } from './parser.js';
import { DEFAULTS, type Config, type LocationConfig, type Method, type ServerConfig, type SourcePos } from './types.js';

/** The typed configuration when there is no error; otherwise null and every error, in source order. */
export type ValidateResult = { config: Config; errors: [] } | { config: null; errors: ConfigError[] };

// ---------------------------------------------------------------------------------------------
// Drafts: mutable shapes filled in by the directive table, frozen into the types.ts shapes.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface LocationDraft extends Mutable<Omit<LocationConfig, 'methods' | 'cgi'>> {
  methods: Set<Method> | null;
  cgi: Map<string, string>;
  cgiPos: Map<string, SourcePos>;
}

interface ServerDraft
  extends Mutable<Omit<ServerConfig, 'host' | 'ports' | 'serverNames' | 'errorPages' | 'locations' | 'timeouts'>> {
  host: string | null;
  ports: number[];
  portPos: Map<number, SourcePos>;
  serverNames: string[];
  errorPages: Map<number, string>;
  locations: LocationDraft[];
  timeouts: Mutable<ServerConfig['timeouts']>;
}

interface MainDraft {
  servers: ServerDraft[];
}

/** What every value parser and setter may need: where relative paths start, where errors go. */
interface Ctx {
  readonly dir: string;
  readonly errors: ConfigError[];
}

// ---------------------------------------------------------------------------------------------
// The directive tables.

type BlockKind = 'main' | 'server' | 'location';

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

/** Turns an argument into a value, or says why it cannot. */
type ValueParser<T> = (arg: ArgNode, ctx: Ctx, directive: string) => T | ConfigError;

const LOCATION = new Map<string, Spec<LocationDraft>>([
  ['methods', many('METHOD...', parseMethod, (l, m) => void (l.methods ??= new Set()).add(m))],
  ['root', one('DIR', parsePath, (l, v) => void (l.root = v))],
  ['default_file', one('NAME', parseFileName, (l, v) => void (l.defaultFile = v))],
  ['directory_listing', one('on|off', parseSwitch, (l, v) => void (l.directoryListing = v))],
  ['cgi', custom('.EXT INTERPRETER', 2, 2, true, applyCgi)],
  ['redirect', one('URL', parseRedirect, (l, v) => void (l.redirect = v))],
  ['session', one('on|off', parseSwitch, (l, v) => void (l.session = v))],
  ['status', one('on|off', parseSwitch, (l, v) => void (l.status = v))],
]);

const SERVER = new Map<string, Spec<ServerDraft>>([
  ['host', one('ADDR', parseHost, (s, v) => void (s.host = v))],
  ['port', many('N...', parsePort, addPort, true)],
  ['server_name', many('NAME...', parseServerName, (s, v) => void s.serverNames.push(v), true)],
  ['body_limit', one('SIZE', parseSize, (s, v) => void (s.bodyLimit = v))],
  ['error_page', custom('CODE... PATH', 2, Infinity, true, applyErrorPage)],
  ['client_header_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.header = v))],
  ['client_body_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.body = v))],
  ['keepalive_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.keepalive = v))],
  ['send_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.send = v))],
  ['cgi_timeout', one('DURATION', parseDuration, (s, v) => void (s.timeouts.cgi = v))],
  ['session_timeout', one('DURATION', parseDuration, (s, v) => void (s.sessionTimeout = v))],
  ['session_max', one('N', parseCount, (s, v) => void (s.sessionMax = v))],
  ['access_log', one('PATH|stdout|off', parseAccessLog, (s, v) => void (s.accessLog = v))],
  ['error_log', one('PATH|stderr', parseErrorLog, (s, v) => void (s.errorLog = v))],
  ['location', { usage: 'PATH', min: 1, max: 1, repeatable: true, block: true, apply: applyLocation }],
]);

const MAIN = new Map<string, Spec<MainDraft>>([
  ['server', { usage: '', min: 0, max: 0, repeatable: true, block: true, apply: applyServer }],
]);

const TABLES: Record<BlockKind, ReadonlyMap<string, unknown>> = { main: MAIN, server: SERVER, location: LOCATION };

/** NGINX directives people will type, and what to write here instead. */
const NGINX_NAMES: ReadonlyMap<string, string> = new Map([
  ['listen', 'use "host ADDR" and "port N" instead'],
  ['client_max_body_size', 'use "body_limit" instead'],
  ['index', 'use "default_file" instead'],
  ['autoindex', 'use "directory_listing" instead'],
  ['return', 'use "redirect URL" instead'],
  ['limit_except', 'use "methods" instead'],
  ['alias', 'use "root" instead (it replaces the location prefix, like NGINX\'s alias)'],
]);

// ---------------------------------------------------------------------------------------------
// Entry point and the generic block walker.

/** Checks the parsed directives of `file` (absolute) and builds the Config. */
export function validate(directives: readonly DirectiveNode[], file: string): ValidateResult {
  const ctx: Ctx = { dir: path.dirname(file), errors: [] };
  const main: MainDraft = { servers: [] };
  walk('main', MAIN, main, directives, ctx, null);
  checkServerClashes(main.servers, ctx);
  if (main.servers.length === 0 && ctx.errors.length === 0) {
    ctx.errors.push(
      new ConfigError({ file, line: 1, col: 1 }, 'no server block: the file must define at least one "server { ... }"'),
    );
  }
  if (ctx.errors.length > 0) return { config: null, errors: sortErrors(ctx.errors) };
  return { config: { file, servers: main.servers.map(freezeServer) }, errors: [] };
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
      const misplaced = (Object.keys(TABLES) as BlockKind[]).find((k) => TABLES[k].has(node.name));
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
  const own = nearest(name, [...TABLES[kind].keys()]);
  if (own !== null) {
    return `unknown directive "${name}" ${blockPhrase(kind, false)}; did you mean "${own}"?`;
  }
  for (const other of Object.keys(TABLES) as BlockKind[]) {
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
    const value = parse(node.args[0] as ArgNode, ctx, node.name);
    if (value instanceof ConfigError) ctx.errors.push(value);
    else set(draft, value);
  });
}

/** A directive with one or more arguments parsed alike; `add` returns a reason to reject one (e.g. a repeat). */
function many<D, T>(
  usage: string,
  parse: ValueParser<T>,
  add: (draft: D, value: T, arg: ArgNode) => string | void,
  repeatable = false,
): Spec<D> {
  return custom(usage, 1, Infinity, repeatable, (draft, node, ctx) => {
    for (const arg of node.args) {
      const value = parse(arg, ctx, node.name);
      const problem = value instanceof ConfigError ? value : add(draft, value, arg);
      if (problem instanceof ConfigError) ctx.errors.push(problem);
      else if (typeof problem === 'string') report(ctx, arg.pos, problem);
    }
  });
}

function custom<D>(usage: string, min: number, max: number, repeatable: boolean, apply: Spec<D>['apply']): Spec<D> {
  return { usage, min, max, repeatable, block: false, apply };
}

// ---------------------------------------------------------------------------------------------
// Block directives.

function applyServer(main: MainDraft, node: DirectiveNode, ctx: Ctx): void {
  const s: ServerDraft = {
    host: null,
    ports: [],
    portPos: new Map(),
    serverNames: [],
    bodyLimit: DEFAULTS.bodyLimit,
    errorPages: new Map(),
    locations: [],
    timeouts: { ...DEFAULTS.timeouts },
    sessionTimeout: DEFAULTS.sessionTimeout,
    sessionMax: DEFAULTS.sessionMax,
    accessLog: null,
    errorLog: DEFAULTS.errorLog,
    pos: node.pos,
  };
  const { seen, hadUnknown } = walk('server', SERVER, s, node.block?.directives ?? [], ctx, node);
  const examples: Record<string, string> = { host: 'host 127.0.0.1', port: 'port 8080' };
  for (const required of hadUnknown ? [] : ['host', 'port']) {
    if (!seen.has(required)) {
      const detail = `missing "${required}" in server block (required, e.g. "${examples[required]}")`;
      report(ctx, node.pos, detail);
    }
  }
  main.servers.push(s);
}

function applyLocation(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const arg = node.args[0] as ArgNode;
  const l: LocationDraft = {
    path: normaliseLocation(arg.value),
    methods: null,
    root: null,
    defaultFile: null,
    directoryListing: false,
    cgi: new Map(),
    cgiPos: new Map(),
    redirect: null,
    session: false,
    status: false,
    pos: node.pos,
  };
  const { seen, hadUnknown } = walk('location', LOCATION, l, node.block?.directives ?? [], ctx, node);

  if (!arg.value.startsWith('/')) {
    report(ctx, arg.pos, `bad location path "${arg.value}": expected a path starting with "/"`);
    return;
  }
  const twin = s.locations.find((other) => other.path === l.path);
  if (twin !== undefined) {
    report(ctx, arg.pos, `duplicate location "${l.path}" (first at ${at(twin.pos)})`);
    return;
  }
  if (!seen.has('root') && !seen.has('redirect') && !l.status && !hadUnknown) {
    const detail = `location "${l.path}" has nothing to serve: it needs "root", "redirect" or "status on"`;
    report(ctx, node.pos, detail);
  }
  s.locations.push(l);
}

/** Drops trailing slashes so "/files/" and "/files" are the same location; "/" stays. */
function normaliseLocation(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

// ---------------------------------------------------------------------------------------------
// Directives with several kinds of argument.

function applyErrorPage(s: ServerDraft, node: DirectiveNode, ctx: Ctx): void {
  const fileArg = node.args[node.args.length - 1] as ArgNode;
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
  for (const code of codes) s.errorPages.set(code, file);
}

function applyCgi(l: LocationDraft, node: DirectiveNode, ctx: Ctx): void {
  const [extArg, interpArg] = node.args as [ArgNode, ArgNode];
  const ext = extArg.value.toLowerCase();
  if (!/^\.[^./]+$/.test(ext)) {
    report(ctx, extArg.pos, `bad cgi extension "${extArg.value}": expected a dot and a suffix, as in ".py"`);
  } else if (l.cgiPos.has(ext)) {
    const first = l.cgiPos.get(ext) as SourcePos;
    report(ctx, extArg.pos, `duplicate cgi extension "${ext}" in this location (first at ${at(first)})`);
  }
  const interpreter = findInterpreter(interpArg.value, ctx.dir);
  if (typeof interpreter !== 'string') {
    report(ctx, interpArg.pos, interpreter.problem);
    return;
  }
  if (!l.cgiPos.has(ext)) {
    l.cgiPos.set(ext, extArg.pos);
    l.cgi.set(ext, interpreter);
  }
}

/**
 * Resolves an interpreter to an absolute executable file: a name with a slash against the
 * config's directory, a bare name through PATH (as execvp would, but once, at start).
 */
function findInterpreter(name: string, dir: string): string | { problem: string } {
  if (name.includes('/')) {
    const file = path.resolve(dir, name);
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (stat === undefined) return { problem: `interpreter "${name}" does not exist (looked for ${file})` };
    if (!stat.isFile()) return { problem: `interpreter "${name}" is not a file (${file})` };
    if (!isExecutable(file)) return { problem: `interpreter "${name}" is not executable (${file})` };
    return file;
  }
  for (const entry of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (entry === '') continue;
    const file = path.resolve(entry, name);
    if (fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true && isExecutable(file)) return file;
  }
  return { problem: `interpreter "${name}" not found on PATH` };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function addPort(s: ServerDraft, port: number, arg: ArgNode): string | void {
  const first = s.portPos.get(port);
  if (first !== undefined) return `port ${port} is listed twice in this server (first at ${at(first)})`;
  s.portPos.set(port, arg.pos);
  s.ports.push(port);
}

// ---------------------------------------------------------------------------------------------
// Value parsers.

function parseHost(arg: ArgNode): string | ConfigError {
  const v = arg.value;
  if (v.toLowerCase() === 'localhost') return '127.0.0.1';
  const family = isIP(v);
  if (family === 4) return v;
  if (family === 6) return normaliseIPv6(v);
  return new ConfigError(
    arg.pos,
    `bad host "${v}": expected an IPv4 or IPv6 address, or localhost (names go in server_name)`,
  );
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

function parsePort(arg: ArgNode): number | ConfigError {
  const n = /^\d{1,5}$/.test(arg.value) ? Number(arg.value) : NaN;
  if (n >= 1 && n <= 65535) return n;
  return new ConfigError(arg.pos, `bad port "${arg.value}": expected an integer from 1 to 65535`);
}

function parseServerName(arg: ArgNode): string | ConfigError {
  if (/[\s/]/.test(arg.value)) {
    return new ConfigError(arg.pos, `bad server_name "${arg.value}": expected a host name such as example.com`);
  }
  return arg.value.toLowerCase(); // host names are case-insensitive (RFC 9110 §4.2.3)
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `SIZE`: bytes with an optional k, m or g suffix (powers of 1024, as NGINX). */
function parseSize(arg: ArgNode): number | ConfigError {
  const m = /^(\d+)([kmg]?)$/i.exec(arg.value);
  const bytes = m === null ? NaN : Number(m[1]) * (SIZE_UNITS[(m[2] as string).toLowerCase()] as number);
  if (Number.isSafeInteger(bytes)) return bytes;
  const detail = `bad size "${arg.value}": expected bytes with an optional k, m or g suffix, e.g. 10m`;
  return new ConfigError(arg.pos, detail);
}

const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
]);

/** `DURATION` in NGINX's syntax: `500ms`, `10s`, `2m`, `1h`, `1m30s`; a bare number is seconds. Result in ms. */
function parseDuration(arg: ArgNode): number | ConfigError {
  const v = arg.value;
  let ms = /^\d+$/.test(v) ? Number(v) * 1000 : NaN;
  if (Number.isNaN(ms) && /^(\d+(ms|[dhms]))+$/.test(v)) {
    ms = 0;
    let lastUnit = Infinity;
    for (const [, num, unit] of v.matchAll(/(\d+)(ms|[dhms])/g)) {
      const size = DURATION_UNITS.get(unit as string) as number;
      if (size >= lastUnit) ms = NaN; // units must go from largest to smallest, each once
      lastUnit = size;
      ms += Number(num) * size;
    }
  }
  if (!Number.isSafeInteger(ms)) {
    const detail = `bad duration "${v}": expected a time such as 500ms, 10s, 2m or 1h (a bare number is seconds)`;
    return new ConfigError(arg.pos, detail);
  }
  if (ms === 0) return new ConfigError(arg.pos, `bad duration "${v}": expected a time greater than 0`);
  return ms;
}

function parseCount(arg: ArgNode, _ctx: Ctx, directive: string): number | ConfigError {
  const n = /^\d+$/.test(arg.value) ? Number(arg.value) : NaN;
  if (Number.isSafeInteger(n) && n >= 1) return n;
  return new ConfigError(arg.pos, `bad ${directive} "${arg.value}": expected an integer of at least 1`);
}

function parseSwitch(arg: ArgNode, _ctx: Ctx, directive: string): boolean | ConfigError {
  const v = arg.value.toLowerCase();
  if (v === 'on' || v === 'off') return v === 'on';
  return new ConfigError(arg.pos, `bad value "${arg.value}" for "${directive}": expected on or off`);
}

const METHODS: readonly Method[] = ['GET', 'HEAD', 'POST', 'DELETE'];

function parseMethod(arg: ArgNode): Method | ConfigError {
  const found = METHODS.find((m) => m === arg.value);
  if (found !== undefined) return found;
  // Method names are case-sensitive (RFC 9110 §9.1), so "get" is not GET.
  const upper = METHODS.find((m) => m === arg.value.toUpperCase());
  const hint = upper === undefined ? '' : ` (methods are case-sensitive: write ${upper})`;
  return new ConfigError(arg.pos, `unknown method "${arg.value}": expected GET, HEAD, POST or DELETE${hint}`);
}

function parsePath(arg: ArgNode, ctx: Ctx): string {
  return path.resolve(ctx.dir, arg.value);
}

function parseFileName(arg: ArgNode): string | ConfigError {
  const v = arg.value;
  if (!v.includes('/') && v !== '.' && v !== '..') return v;
  return new ConfigError(arg.pos, `bad default_file "${v}": expected a file name without "/", e.g. index.html`);
}

function parseRedirect(arg: ArgNode): string | ConfigError {
  const v = arg.value;
  // The value becomes a Location header: no spaces or controls (RFC 9110 §10.2.2, §5.5).
  const ok = (v.startsWith('/') || /^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(v)) && !/[\s\x00-\x1f\x7f]/.test(v);
  if (ok) return v;
  return new ConfigError(
    arg.pos,
    `bad redirect "${v}": expected a path starting with "/" or an absolute URL such as https://example.com/`,
  );
}

function parseAccessLog(arg: ArgNode, ctx: Ctx): string | null {
  if (arg.value === 'off') return null;
  if (arg.value === 'stdout') return 'stdout';
  return path.resolve(ctx.dir, arg.value);
}

function parseErrorLog(arg: ArgNode, ctx: Ctx): string {
  return arg.value === 'stderr' ? 'stderr' : path.resolve(ctx.dir, arg.value);
}

// ---------------------------------------------------------------------------------------------
// Whole-config checks and the final shapes.

/** Two servers answering the same host:port for the same server_name (or both without one) cannot be told apart. */
function checkServerClashes(servers: readonly ServerDraft[], ctx: Ctx): void {
  const owners = new Map<string, ServerDraft>();
  for (const s of servers) {
    if (s.host === null) continue;
    const names = s.serverNames.length > 0 ? s.serverNames : [''];
    let reported = false;
    for (const port of s.ports) {
      for (const name of names) {
        const key = `${s.host} ${port} ${name}`;
        const other = owners.get(key);
        if (other === undefined) {
          owners.set(key, s);
        } else if (other !== s && !reported) {
          reported = true;
          const addr = s.host.includes(':') ? `[${s.host}]:${port}` : `${s.host}:${port}`;
          const which = name === '' ? 'without server_name' : `with server_name "${name}"`;
          const detail = `duplicate server for ${addr} ${which}: the server at ${at(other.pos)} already answers it`;
          report(ctx, s.pos, detail);
        }
      }
    }
  }
}

function freezeServer(s: ServerDraft): ServerConfig {
  return {
    host: s.host as string,
    ports: s.ports,
    serverNames: s.serverNames,
    bodyLimit: s.bodyLimit,
    errorPages: s.errorPages,
    locations: s.locations.map(freezeLocation),
    timeouts: s.timeouts,
    sessionTimeout: s.sessionTimeout,
    sessionMax: s.sessionMax,
    accessLog: s.accessLog,
    errorLog: s.errorLog,
    pos: s.pos,
  };
}

function freezeLocation(l: LocationDraft): LocationConfig {
  return {
    path: l.path,
    methods: l.methods,
    root: l.root,
    defaultFile: l.defaultFile,
    directoryListing: l.directoryListing,
    cgi: l.cgi,
    redirect: l.redirect,
    session: l.session,
    status: l.status,
    pos: l.pos,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

const at = (pos: SourcePos): string => `${pos.line}:${pos.col}`;

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
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const cell = (i: number, j: number): number => (rows[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(cell(i - 1, j) + 1, cell(i, j - 1) + 1, cell(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, cell(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = d;
    }
  }
  return cell(a.length, b.length);
}
