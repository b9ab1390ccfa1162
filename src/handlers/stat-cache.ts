/**
 * File metadata kept fresh by inotify, like lighttpd's stat cache with its inotify engine: a path's stat result
 * is remembered while its directory and every directory between it and its location's root are watched
 * (fs.watch: inotify on the event loop, no thread pool), so a hot file costs no system call per request, and any
 * change is seen as soon as its event arrives. Nothing outside a configured root is ever watched, so activity
 * elsewhere (the system temp directory, say) never wakes the server.
 *
 * Rules: an in-place change (write, chmod, utimes) forgets that one path; a rename, creation or deletion in a
 * watched directory (which may move a directory we rely on) forgets everything under that directory and drops
 * the watches below it, re-made on demand. A path that cannot be watched is simply not cached.
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
/** Bumped whenever an entry of a directory may have changed; see `dirVersion`. */
const dirCounters = new Map<string, number>();
/** Bumped when watches are dropped: every listing token changes. */
let generation = 0;

/** True when `p` is `dir` or lies under it. */
function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir === '/' ? '/' : dir + '/');
}

/** Told of every path forgotten (`subtree`: everything under it too), so caches built on a file can follow. */
const forgetListeners: Array<(p: string, subtree: boolean) => void> = [];

/** Calls `fn` whenever a path (or a subtree) is forgotten: the file may have changed. */
export function onForget(fn: (p: string, subtree: boolean) => void): void {
  forgetListeners.push(fn);
}

function told(p: string, subtree: boolean): void {
  for (const fn of forgetListeners) fn(p, subtree);
}

/** Forgets everything and drops every watch. */
export function forgetAll(): void {
  told('/', true);
  stats.clear();
  dirCounters.clear();
  generation++;
  for (const w of watchers.values()) w.close();
  watchers.clear();
}

/** Forgets one path (the server's own writes call this, so they never wait for their inotify event). */
export function forget(p: string): void {
  told(p, false);
  stats.delete(p);
  const dir = path.dirname(p);
  dirCounters.set(dir, (dirCounters.get(dir) ?? 0) + 1);
}

/** Forgets every path under `dir` (itself included) and drops the watches below it. */
function forgetTree(dir: string): void {
  told(dir, true);
  for (const p of stats.keys()) if (under(p, dir)) stats.delete(p);
  for (const [d, w] of watchers) {
    if (d !== dir && under(d, dir)) {
      w.close();
      watchers.delete(d);
    }
  }
  dirCounters.set(dir, (dirCounters.get(dir) ?? 0) + 1);
  generation++;
}

function onEvent(dir: string, event: string, filename: string | Buffer | null): void {
  if (filename === null) forgetAll();
  else if (event === 'rename') forgetTree(dir);
  else forget(path.join(dir, filename.toString()));
}

/** Watches `dir` and every directory up to `root`; false when that is not possible or `dir` is outside `root`
 *  (then nothing under it is cached). */
function watchChain(dir: string, root: string): boolean {
  if (!under(dir, root)) return false;
  for (let d = dir; ; d = path.dirname(d)) {
    if (!watchers.has(d)) {
      if (watchers.size >= MAX_WATCHED) return false;
      try {
        const w = fs.watch(d, { persistent: false }, (event, filename) => {
          onEvent(d, event, filename);
        });
        w.on('error', forgetAll);
        watchers.set(d, w);
      } catch {
        return false;
      }
    }
    if (d === root || path.dirname(d) === d) return true;
  }
}

/**
 * fs.statSync(p, { throwIfNoEntry: false }) answered from the cache when possible. `root` is the directory of the
 * location `p` was mapped under: only directories from `p`'s up to it are watched. Errors other than ENOENT throw
 * as statSync's do and are not cached.
 */
export function statCached(p: string, root: string): fs.Stats | undefined {
  const hit = stats.get(p);
  if (hit !== undefined) return hit ?? undefined;
  // Watch first: a change between the stat and the watch would otherwise go unseen.
  const watched = watchChain(path.dirname(p), root);
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (watched) {
    if (stats.size >= MAX_ENTRIES) stats.clear();
    stats.set(p, st ?? null);
  }
  return st;
}

/** A token that changes whenever an entry of `dir` (under `root`) may have changed; null when `dir` cannot be
 *  watched. Used to keep a directory listing until its directory changes. */
export function dirVersion(dir: string, root: string): string | null {
  if (!watchChain(dir, root)) return null;
  return `${generation}:${dirCounters.get(dir) ?? 0}`;
}

/** How many directories are watched now (for tests: nothing outside the roots). */
export function watchedDirectories(): string[] {
  return [...watchers.keys()];
}
