/**
 * Apache's htpasswd (Debian's apache2-utils) for tests that need user files in every format it writes.
 */
import { ensureTool } from '../native/support.js';

/** Makes sure `htpasswd` can run (installing apache2-utils with apt-get when root); throws when it cannot. */
export function ensureHtpasswd(): void {
  const problem = ensureTool('htpasswd', 'apache2-utils');
  if (problem !== null) throw new Error(problem);
}
