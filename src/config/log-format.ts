/**
 * `log_format NAME [escape=default|json|none] STRING...` (nginx's): the format text compiled once, at load, into
 * literal and variable parts, so an unknown variable is a configuration error at FILE:LINE:COL and the request
 * path only concatenates. Pure.
 */
import { err, ok, type Result } from '../lib/result.js';
import type { LogEscape, LogFormat, LogPart } from './types.js';

/** The variables an access-log format may use (nginx's names), besides `$http_NAME` for any request header. */
export const LOG_VARIABLES: ReadonlySet<string> = new Set([
  'remote_addr',
  'realip_remote_addr',
  'remote_user',
  'time_local',
  'time_iso8601',
  'msec',
  'request',
  'request_method',
  'request_uri',
  'server_protocol',
  'status',
  'body_bytes_sent',
  'bytes_sent',
  'request_length',
  'request_time',
  'upstream_response_time',
  'host',
  'http_referer',
  'http_user_agent',
]);

/** nginx's predefined `combined` format. */
export const COMBINED_TEXT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/**
 * Compiles format `text`; `$name` and `${name}` are variables (names are [a-z0-9_], as in nginx). `where` names
 * the text in errors.
 */
export function compileLogFormat(
  name: string,
  escape: LogEscape,
  text: string,
  where = `log_format "${name}"`,
): Result<LogFormat, string> {
  const parts: LogPart[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '$') {
      literal += c ?? '';
      continue;
    }
    const m = /^\{([a-z0-9_]+)\}|^([a-z0-9_]+)/i.exec(text.slice(i + 1));
    const v = (m?.[1] ?? m?.[2] ?? '').toLowerCase();
    if (m === null || v === '') return err(`bad ${where}: "$" at offset ${i} is not followed by a name`);
    if (!LOG_VARIABLES.has(v) && !/^http_[a-z0-9_]+$/.test(v)) return err(`unknown variable "$${v}" in ${where}`);
    if (literal !== '') parts.push({ literal });
    literal = '';
    // $http_x_forwarded_for names the header X-Forwarded-For (nginx: "_" for "-", lower case).
    parts.push({ variable: v, header: headerOf(v) });
    i += m[0].length;
  }
  if (literal !== '') parts.push({ literal });
  return ok({ name, escape, parts });
}

/** The request header a `$http_NAME` variable reads, or null for other variables. */
function headerOf(v: string): string | null {
  return v.startsWith('http_') ? v.slice(5).replaceAll('_', '-') : null;
}

/** The format `combined`, which every configuration has. */
export const COMBINED: LogFormat = (() => {
  const c = compileLogFormat('combined', 'default', COMBINED_TEXT);
  if (!c.ok) throw new Error(c.error); // a constant: cannot happen
  return c.value;
})();
