/**
 * The one Result type for expected failures (a bad path, a malformed header, a child that cannot start): the
 * caller must look before it uses the value, and an error can never be mistaken for one.
 */

/** A value, or the reason there is none. */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

/** A success. */
export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

/** A failure. */
export function err<E>(error: E): Result<never, E> {
  return { ok: false, error };
}
