/**
 * Encoded variants of static files (README "Compression"): each is compressed once and kept here, in
 * least-recently-used order under a byte cap, so a hot file costs no compression at all. An entry is valid
 * while the file keeps the identity it was encoded from (inode, size, mtime, ctime, as the small-file cache of
 * static.ts checks); the stat cache's inotify events drop entries as soon as their file changes.
 */
import type * as fs from 'node:fs';
import { onForget } from './stat-cache.js';

/** Total bytes of encoded bodies kept; the least recently used go first beyond it. */
export const ENCODED_CACHE_BYTES = 32 * 1024 * 1024;
/** Most entries kept, whatever their size. */
const MAX_ENTRIES = 10_000;

/** One encoded variant and the file identity it was made from. */
export interface EncodedEntry<T> {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** The variant (null: encoding did not make it smaller, so the identity is sent). */
  readonly value: T | null;
  /** Bytes it holds, for the cap. */
  readonly bytes: number;
}

/** An LRU map of encoded variants, keyed by path, coding and level. */
export class EncodedCache<T> {
  private readonly entries = new Map<string, EncodedEntry<T> & { readonly path: string }>();
  private total = 0;

  constructor(private readonly capBytes: number = ENCODED_CACHE_BYTES) {}

  /** The entry for `path` as `variant`, if it was made from the file `st` describes; a stale one is dropped. */
  get(
    path: string,
    variant: string,
    st: Pick<fs.Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>,
  ): EncodedEntry<T> | undefined {
    const key = path + '\0' + variant;
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.entries.delete(key);
    const same = hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs;
    if (!same) {
      this.total -= hit.bytes;
      return undefined;
    }
    this.entries.set(key, hit); // most recently used goes last
    return hit;
  }

  /** Keeps `entry`, evicting the least recently used beyond the caps; one larger than the cap is not kept. */
  put(path: string, variant: string, entry: EncodedEntry<T>): void {
    const key = path + '\0' + variant;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.total -= old.bytes;
      this.entries.delete(key);
    }
    if (entry.bytes > this.capBytes) return;
    this.entries.set(key, { ...entry, path });
    this.total += entry.bytes;
    for (const [k, v] of this.entries) {
      if (this.total <= this.capBytes && this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(k);
      this.total -= v.bytes;
    }
  }

  /** Drops the entries of `path`, or of everything under it when `subtree`. */
  drop(path: string, subtree: boolean): void {
    const prefix = path.endsWith('/') ? path : path + '/';
    for (const [k, v] of this.entries) {
      if (v.path === path || (subtree && v.path.startsWith(prefix))) {
        this.entries.delete(k);
        this.total -= v.bytes;
      }
    }
  }

  /** Bytes held now. */
  bytes(): number {
    return this.total;
  }

  /** Entries held now. */
  size(): number {
    return this.entries.size;
  }

  /** Drops entries whenever the stat cache forgets a path (its inotify change detection). */
  followStatCache(): this {
    onForget((p, subtree) => {
      if (this.entries.size > 0) this.drop(p, subtree);
    });
    return this;
  }
}
