/**
 * File metadata kept fresh by inotify, like lighttpd's stat cache with its inotify engine: a path's stat result
 * is remembered while its directory and every ancestor are watched (fs.watch: inotify on the event loop, no thread
 * pool), so a hot file costs no system call per request, and any change is seen as soon as its event arrives.
 *
 * Rules: an in-place change (write, chmod, utimes) forgets that one path; a rename, creation or deletion anywhere
 * in a watched directory (which may move a directory we rely on) forgets everything and drops every watch, which are
 * re-made on demand. A path that cannot be watched is simply not cached.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Most directories watched at once (inotify watches are a per-user kernel resource). */
const MAX_WATCHED = 1024;
/** Most paths remembered; beyond it everything is forgotten at once (simple and rare). */
const MAX_ENTRIES = 50_000;

/** A cached result: the Stats, or null for "does not exist". */
const stats = new Map<string, fs.Stats | null>();
const watchers = new Map<string, fs.FSWatcher>();
/** Bumped whenever anything under a directory may have changed; see `dirVersion`. */
const dirCounters = new Map<string, number>();
let generation = 0;

/** Forgets everything and drops every watch. */
export function forgetAll(): void {
  stats.clear();
  dirCounters.clear();
  generation++;
  for (const w of watchers.values()) w.close();
  watchers.clear();
}

/** Forgets one path (the server's own writes call this, so they never wait for their inotify event). */
export function forget(p: string): void {
  stats.delete(p);
  const dir = path.dirname(p);
  dirCounters.set(dir, (dirCounters.get(dir) ?? 0) + 1);
}

function onEvent(dir: string, event: string, filename: string | Buffer | null): void {
  if (event === 'rename' || filename === null) {
    forgetAll();
    return;
  }
  forget(path.join(dir, filename.toString()));
}

/** Watches `dir` and its ancestors; false when that is not possible (then nothing under it is cached). */
function watchChain(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if (!watchers.has(d)) {
      if (watchers.size >= MAX_WATCHED) return false;
      try {
        const w = fs.watch(d, { persistent: false }, (event, filename) => onEvent(d, event, filename));
        w.on('error', forgetAll);
        watchers.set(d, w);
      } catch {
        return false;
      }
    }
    if (d === '/' || path.dirname(d) === d) return true;
  }
}

/** fs.statSync(p, { throwIfNoEntry: false }) answered from the cache when possible; errors other than ENOENT
 *  throw as statSync's do and are not cached. */
export function statCached(p: string): fs.Stats | undefined {
  const hit = stats.get(p);
  if (hit !== undefined) return hit ?? undefined;
  // Watch first: a change between the stat and the watch would otherwise go unseen.
  const watched = watchChain(path.dirname(p));
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (watched) {
    if (stats.size >= MAX_ENTRIES) stats.clear();
    stats.set(p, st ?? null);
  }
  return st;
}

/** A token that changes whenever an entry of `dir` may have changed; null when `dir` cannot be watched. Used to
 *  keep a directory listing until its directory changes. */
export function dirVersion(dir: string): string | null {
  if (!watchChain(dir)) return null;
  return `${generation}:${dirCounters.get(dir) ?? 0}`;
}
