/**
 * nginx's rewrite phase (issue 17): `rewrite` and `return` of a server or location block, run in the order
 * written against the current URI. Pure: it reads a VarContext and returns what happened.
 */
import type { RewriteOp } from '../config/routing-types.js';
import { expand, type VarContext } from './variables.js';

/** The URI and arguments the phase works on, and the captures of the location's regex. */
export interface RouteState {
  uri: string;
  args: string;
  captures: readonly (string | undefined)[];
}

/** What a block's rewrite phase decided. */
export type PhaseOutcome =
  /** Go on in this block; `changed`: a rewrite without a flag changed the URI (search the locations again). */
  | { readonly kind: 'continue'; readonly changed: boolean }
  /** `rewrite ... break`: stay in this location with the new URI, no further rewrites. */
  | { readonly kind: 'break' }
  /** `rewrite ... last`: search the locations again with the new URI. */
  | { readonly kind: 'last' }
  /** `return`, or a redirecting rewrite: answer now. `text` is the body or (for redirects) the Location. */
  | { readonly kind: 'answer'; readonly code: number; readonly text: string | null };

/** Redirect statuses: their text is a URL (Location). */
export const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

const isAbsoluteUrl = (v: string): boolean => /^https?:\/\//i.test(v);

/**
 * A rewrite's replacement applied to the state (nginx's rules): a "?" in it sets new arguments, to which the old
 * ones are appended unless it ends with "?". Returns the redirect target when the result is an absolute URL.
 */
function applyReplacement(state: RouteState, replaced: string): void {
  const q = replaced.indexOf('?');
  if (q < 0) {
    state.uri = replaced;
    return;
  }
  state.uri = replaced.slice(0, q);
  const fresh = replaced.slice(q + 1);
  if (fresh.endsWith('?')) state.args = fresh.slice(0, -1);
  else state.args = state.args === '' ? fresh : fresh === '' ? state.args : `${fresh}&${state.args}`;
}

/** The Location of a redirect made by `rewrite`: the replacement, with the old arguments unless told not to. */
function redirectTarget(replaced: string, args: string): string {
  if (replaced.endsWith('?')) return replaced.slice(0, -1);
  if (args === '') return replaced;
  return replaced + (replaced.includes('?') ? '&' : '?') + args;
}

/** Runs `ops` on `state`; `vars` gives the variables of the state as it is at each step. */
export function runPhase(ops: readonly RewriteOp[], state: RouteState, vars: () => VarContext): PhaseOutcome {
  let changed = false;
  for (const op of ops) {
    if (op.kind === 'return') {
      return { kind: 'answer', code: op.code, text: op.text === null ? null : expand(op.text, vars()) };
    }
    const m = op.regex.exec(state.uri);
    if (m === null) continue;
    const replaced = expand(op.replacement, vars(), [...m]);
    if (isAbsoluteUrl(replaced) || op.flag === 'redirect' || op.flag === 'permanent') {
      const code = op.flag === 'permanent' ? 301 : 302;
      return { kind: 'answer', code, text: redirectTarget(replaced, state.args) };
    }
    applyReplacement(state, replaced);
    if (op.flag === 'last') return { kind: 'last' };
    if (op.flag === 'break') return { kind: 'break' };
    changed = true;
  }
  return { kind: 'continue', changed };
}
