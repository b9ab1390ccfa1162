/**
 * The package's own name and version, read once from its package.json (for `-V` and the metrics' build info).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name and version; "unknown" for both when package.json cannot be found. */
export interface PackageInfo {
  readonly name: string;
  readonly version: string;
}

let cached: PackageInfo | null = null;

/** package.json two levels above this module (dist/lib/ or build/src/lib/), read synchronously once (small file). */
export function packageInfo(): PackageInfo {
  if (cached !== null) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    try {
      const pkg: unknown = JSON.parse(fs.readFileSync(path.join(here, up, 'package.json'), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && 'version' in pkg) {
        cached = { name: String(pkg.name), version: String(pkg.version) };
        return cached;
      }
    } catch {
      // not here; try the next level
    }
  }
  cached = { name: 'unknown', version: 'unknown' };
  return cached;
}
