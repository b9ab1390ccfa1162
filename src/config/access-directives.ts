/**
 * The access-control directives (docs/ARCHITECTURE.md "Access control"), allowed in server and location blocks:
 * `allow`, `deny`, `auth_basic`, `auth_basic_user_file`, `satisfy`, `limit_req`, `limit_req_status`, `limit_conn`,
 * `limit_conn_status`. Each parser turns the arguments into a value or a message; validate.ts reports it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseBlock, type AccessRule, type Block } from '../access/cidr.js';
import { parseUserFile } from '../access/htpasswd.js';
import { isToken } from '../http/abnf.js';
import type { LimitConn, LimitReq, UserFileRef } from '../access/policy.js';
import { ConfigError } from './errors.js';
import type { ArgNode } from './parser.js';
import type { SourcePos } from './types.js';
import { err, ok, type Result } from '../lib/result.js';

/** `allow X` / `deny X`. */
export function parseRule(arg: ArgNode, allow: boolean): Result<AccessRule, string> {
  const block = parseBlock(arg.value);
  return block.ok ? ok({ allow, block: block.value }) : block;
}

/** `auth_basic "realm"|off`: null for off. The realm goes into a quoted-string (RFC 9110 §5.6.4): no `"`, `\`, or
 *  control characters. */
export function parseRealm(arg: ArgNode): Result<string | null, string> {
  if (arg.value === 'off') return ok(null);
  if (/["\\\x00-\x1f\x7f]/.test(arg.value))
    return err(`bad auth_basic realm "${arg.value}": no quotes, backslashes or control characters`);
  return ok(arg.value);
}

/** `satisfy all|any`: true for any. */
export function parseSatisfy(arg: ArgNode): Result<boolean, string> {
  if (arg.value === 'all' || arg.value === 'any') return ok(arg.value === 'any');
  return err(`bad value "${arg.value}" for "satisfy": expected all or any`);
}

/** `limit_req_status` / `limit_conn_status`: 400..599, as nginx requires. */
export function parseLimitStatus(arg: ArgNode, directive: string): Result<number, string> {
  const n = /^\d{3}$/.test(arg.value) ? Number(arg.value) : NaN;
  if (n >= 400 && n <= 599) return ok(n);
  return err(`bad ${directive} "${arg.value}": expected a status from 400 to 599`);
}

const zoneName = (pos: SourcePos): string => `${pos.file}:${pos.line}:${pos.col}`;

/** `limit_conn N`. */
export function parseLimitConn(arg: ArgNode, pos: SourcePos): Result<LimitConn, string> {
  const n = /^\d{1,9}$/.test(arg.value) ? Number(arg.value) : NaN;
  if (n >= 1) return ok({ max: n, zone: zoneName(pos) });
  return err(`bad limit_conn "${arg.value}": expected the number of concurrent requests per address, at least 1`);
}

/**
 * `limit_req rate=Nr/s|Nr/m [burst=N] [nodelay]`: the inline form of nginx's limit_req_zone + limit_req, one zone
 * per directive keyed by the client address. Returns the value, or the argument at fault and why.
 */
export function parseLimitReq(
  args: readonly ArgNode[],
  pos: SourcePos,
): Result<LimitReq, { readonly at: SourcePos; readonly message: string }> {
  let perSecond = NaN;
  let burst = 0;
  let nodelay = false;
  for (const a of args) {
    const rate = /^rate=(\d{1,9})r\/([sm])$/.exec(a.value);
    const b = /^burst=(\d{1,9})$/.exec(a.value);
    if (rate !== null) {
      perSecond = Number(rate[1]) / (rate[2] === 'm' ? 60 : 1);
      if (!(perSecond > 0)) return err({ at: a.pos, message: `bad rate "${a.value}": expected at least 1r/s or 1r/m` });
    } else if (b !== null) burst = Number(b[1]);
    else if (a.value === 'nodelay') nodelay = true;
    else if (a.value.startsWith('zone=')) {
      return err({
        at: a.pos,
        message: 'limit_req takes its rate inline here: write "limit_req rate=10r/s burst=5" (no limit_req_zone)',
      });
    } else
      return err({
        at: a.pos,
        message: `bad limit_req parameter "${a.value}": expected rate=Nr/s, rate=Nr/m, burst=N or nodelay`,
      });
  }
  if (Number.isNaN(perSecond))
    return err({ at: pos, message: 'limit_req needs a rate, e.g. "limit_req rate=10r/s burst=5"' });
  return ok({ perSecond, burst, nodelay, zone: zoneName(pos) });
}

/** `set_real_ip_from ADDR|CIDR|unix:` (nginx's realip): a trusted block, or 'unix' for UNIX-domain peers. */
export function parseRealIpFrom(arg: ArgNode): Result<Block | 'unix', string> {
  if (arg.value === 'unix:') return ok('unix');
  // nginx's set_real_ip_from knows no "all" (it would look it up as a host name); names would need DNS here.
  const b = arg.value === 'all' ? null : parseBlock(arg.value);
  if (b?.ok === true) return b;
  const why = b?.error.startsWith('bad prefix') === true ? ` (${b.error})` : '';
  return err(
    `bad set_real_ip_from "${arg.value}": expected an IPv4 or IPv6 address, a CIDR block (10.0.0.0/8, ` +
      `2001:db8::/32) or unix:${why}`,
  );
}

/** `real_ip_header NAME`: the field's lower-case name. nginx's `proxy_protocol` needs a PROXY-protocol listener,
 *  which we do not have. */
export function parseRealIpHeader(arg: ArgNode): Result<string, string> {
  if (arg.value === 'proxy_protocol')
    return err('"real_ip_header proxy_protocol" is not supported: no listener speaks the PROXY protocol');
  if (isToken(arg.value)) return ok(arg.value.toLowerCase());
  return err(`bad real_ip_header "${arg.value}": expected a header name such as X-Forwarded-For or X-Real-IP`);
}

/**
 * `auth_basic_user_file PATH`, read at load: a file that cannot be read is an error at the argument; each line
 * whose hash we cannot check is an error naming that line of the user file.
 */
export function loadUserFile(arg: ArgNode, dir: string, errors: ConfigError[]): UserFileRef | null {
  const file = path.resolve(dir, arg.value);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : 'error';
    errors.push(new ConfigError(arg.pos, `cannot read auth_basic_user_file "${arg.value}" (${file}): ${code}`));
    return null;
  }
  const parsed = parseUserFile(text);
  for (const e of parsed.errors) {
    const where = `${arg.pos.file}:${arg.pos.line}:${arg.pos.col}`;
    errors.push(new ConfigError({ file, line: e.line, col: e.col }, `${e.message} (auth_basic_user_file at ${where})`));
  }
  return parsed.errors.length > 0 ? null : { path: file, table: parsed.users, pos: arg.pos };
}
