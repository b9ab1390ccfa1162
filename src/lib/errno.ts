/**
 * The errno code of a thrown system error ("ENOENT", "EACCES", ...), without casts at every call site.
 */

/** `err.code` when `err` is a Node system error with a string code; otherwise "" (not a system error). */
export function errnoCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    if (typeof code === 'string') return code;
  }
  return '';
}
