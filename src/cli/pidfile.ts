/**
 * The `pid PATH` file (nginx's): written once the listeners are bound, removed at exit, read by `-s`. A file left
 * by an instance that died (SIGKILL, a crash, a reboot) is stale: its process is gone, or is not ours.
 */
import * as fs from 'node:fs';
import { errnoCode } from '../lib/errno.js';
import { err, ok, type Result } from '../lib/result.js';

/** What a pid file says about the instance it names. */
export type PidState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'running'; readonly pid: number }
  /** The file exists but names no live instance of this server (or cannot be read as a pid). */
  | { readonly kind: 'stale'; readonly pid: number | null; readonly why: string };

/** True when process `pid` is alive and is a node process running this server (pids are reused). */
function isOurs(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive, but another user's; it cannot be ours to signal either way.
    if (errnoCode(e) !== 'EPERM') return false;
  }
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
  // The arguments are NUL-separated: node, then our script (main.js, or the installed `localhost` link).
  return /(^|\/)(main\.js|localhost)\0/.test(cmdline);
}

/** Reads and judges the pid file at `file`. */
export function readPidFile(file: string): PidState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { kind: 'absent' };
    return { kind: 'stale', pid: null, why: `cannot read it: ${errnoCode(e) || String(e)}` };
  }
  const m = /^\s*(\d{1,10})\s*$/.exec(text);
  const pid = m === null ? NaN : Number(m[1]);
  if (!(pid > 0 && pid <= 0x3fffffff)) return { kind: 'stale', pid: null, why: 'it holds no process id' };
  if (pid === process.pid || !isOurs(pid))
    return { kind: 'stale', pid, why: `process ${pid} is not a running localhost` };
  return { kind: 'running', pid };
}

/**
 * Claims `file` for this process: refuses when it names a running instance; replaces a stale one (the caller
 * says so). Written through a temporary name and renamed, so a reader never sees a half-written pid.
 */
export function writePidFile(file: string): Result<PidState, string> {
  const before = readPidFile(file);
  if (before.kind === 'running')
    return err(`${file}: another instance is running (pid ${before.pid}); stop it first, or use -s`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // never created
    }
    return err(`cannot write pid file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return ok(before);
}

/** Removes `file` if it still holds this process's pid (a successor may have claimed it since). */
export function removePidFile(file: string): void {
  try {
    if (fs.readFileSync(file, 'latin1').trim() === String(process.pid)) fs.unlinkSync(file);
  } catch {
    // gone already, or unreadable: nothing of ours to remove
  }
}
