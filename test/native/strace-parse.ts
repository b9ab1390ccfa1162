/**
 * Reads an `strace -f` trace of the harness and checks the native transport's system-call discipline:
 *
 * 1. Between two wake-ups (epoll_wait/epoll_pwait of the main thread), each client descriptor sees at most one
 *    read and at most one write/writev/sendfile.
 * 2. A write-class call never follows one that returned EAGAIN on the same descriptor without an epoll_wait in
 *    between that reported EPOLLOUT for it. (Also checked for a write the kernel took only in part, whenever the
 *    size asked can be read off the trace: the transport waits for EPOLLOUT then too.)
 *
 * Client descriptors are those accept4 returned, until close. Only the main thread counts: it is the one that
 * called accept4. Lines are expected from `strace -f -qq -s 300 -e trace=epoll_wait,epoll_pwait,read,write,
 * writev,sendfile,accept4,close`; an `<unfinished ...>` call is joined with its `<... resumed>` rest.
 */

/** One completed system call of the trace. */
export interface Call {
  readonly tid: number;
  readonly name: string;
  /** The text between the parentheses (arguments, with strace's rendering of results for epoll). */
  readonly args: string;
  /** The return value (-1 for failures). */
  readonly ret: number;
  /** The errno name of a failure ("EAGAIN"), else "". */
  readonly errno: string;
}

/** What the check found. */
export interface TraceReport {
  readonly violations: string[];
  readonly stats: {
    /** Wake-ups of the main thread. */
    wakeups: number;
    /** Client descriptors seen (accept4 results). */
    clients: number;
    reads: number;
    readsEagain: number;
    writes: number;
    writevs: number;
    sendfiles: number;
    writesEagain: number;
    /** Writes that took less than asked (when the size asked is known). */
    writesShort: number;
    /** EPOLLOUT reports for client descriptors. */
    epollout: number;
    /** The most reads / writes one client descriptor made in one window. */
    maxReadsPerWindow: number;
    maxWritesPerWindow: number;
  };
}

const LINE = /^(\d+) +(.*)$/;
const CALL = /^([a-z_0-9]+)\((.*)\) += (-?\d+|\?)(?: ([A-Z0-9_]+))?/;

/** Completed calls, in order, with interrupted ones joined. */
export function parseCalls(text: string): Call[] {
  const pending = new Map<number, string>();
  const calls: Call[] = [];
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw);
    if (m === null) continue;
    const tid = Number(m[1]);
    let body = m[2] ?? '';
    if (body.endsWith('<unfinished ...>')) {
      pending.set(tid, body.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. [a-z_0-9]+ resumed>\s?(.*)$/.exec(body);
    if (resumed !== null) {
      const start = pending.get(tid);
      pending.delete(tid);
      if (start === undefined) continue;
      body = start + (resumed[1] ?? '');
    }
    const c = CALL.exec(body);
    if (c === null) continue;
    calls.push({ tid, name: c[1] ?? '', args: c[2] ?? '', ret: c[3] === '?' ? -1 : Number(c[3]), errno: c[4] ?? '' });
  }
  return calls;
}

/** The first argument of a call, as a number (the descriptor). */
function firstArg(args: string): number {
  const m = /^\s*(-?\d+)/.exec(args);
  return m === null ? -1 : Number(m[1]);
}

/** The size a write-class call asked for, when the trace shows it whole; null otherwise. */
function asked(c: Call): number | null {
  if (c.name === 'write' || c.name === 'sendfile') {
    const m = /,\s*(\d+)\s*$/.exec(c.args);
    return m === null ? null : Number(m[1]);
  }
  if (c.name === 'writev') {
    if (/\.\.\.\]/.test(c.args) || /\], \.\.\./.test(c.args)) return null; // the iovec array was abbreviated
    let sum = 0;
    for (const m of c.args.matchAll(/iov_len=(\d+)/g)) sum += Number(m[1]);
    return sum;
  }
  return null;
}

/** Descriptors an epoll_wait result reported with EPOLLOUT. */
function epolloutFds(args: string): number[] {
  const out: number[] = [];
  for (const m of args.matchAll(/\{events=([A-Z|]+), data=\{u32=(\d+)/g)) {
    if ((m[1] ?? '').split('|').includes('EPOLLOUT')) out.push(Number(m[2]));
  }
  return out;
}

const WRITES = new Set(['write', 'writev', 'sendfile']);

/** Checks the two rules over a whole trace. */
export function checkTrace(text: string): TraceReport {
  const calls = parseCalls(text);
  const main = calls.find((c) => c.name === 'accept4' && c.ret >= 0)?.tid ?? -1;
  const violations: string[] = [];
  const stats: TraceReport['stats'] = {
    wakeups: 0,
    clients: 0,
    reads: 0,
    readsEagain: 0,
    writes: 0,
    writevs: 0,
    sendfiles: 0,
    writesEagain: 0,
    writesShort: 0,
    epollout: 0,
    maxReadsPerWindow: 0,
    maxWritesPerWindow: 0,
  };
  const clients = new Set<number>();
  /** Per descriptor, in the current window. */
  let readsIn = new Map<number, number>();
  let writesIn = new Map<number, number>();
  /** Descriptors whose last write hit EAGAIN (or was short) and that have had no EPOLLOUT since. */
  const blocked = new Map<number, string>();
  let window = 0;
  for (const c of calls) {
    if (c.tid !== main) continue;
    if (c.name === 'epoll_wait' || c.name === 'epoll_pwait') {
      stats.wakeups++;
      window++;
      readsIn = new Map();
      writesIn = new Map();
      for (const fd of epolloutFds(c.args)) {
        if (!clients.has(fd)) continue;
        stats.epollout++;
        blocked.delete(fd);
      }
      continue;
    }
    if (c.name === 'accept4') {
      if (c.ret >= 0) {
        clients.add(c.ret);
        blocked.delete(c.ret);
        stats.clients++;
      }
      continue;
    }
    const fd = firstArg(c.args);
    if (c.name === 'close') {
      clients.delete(fd);
      blocked.delete(fd);
      continue;
    }
    if (!clients.has(fd)) continue;
    if (c.name === 'read') {
      stats.reads++;
      if (c.errno === 'EAGAIN') stats.readsEagain++;
      const k = (readsIn.get(fd) ?? 0) + 1;
      readsIn.set(fd, k);
      stats.maxReadsPerWindow = Math.max(stats.maxReadsPerWindow, k);
      if (k === 2) violations.push(`window ${window}: fd ${fd} read twice between two wake-ups`);
      continue;
    }
    if (!WRITES.has(c.name)) continue;
    if (c.name === 'write') stats.writes++;
    else if (c.name === 'writev') stats.writevs++;
    else stats.sendfiles++;
    const k = (writesIn.get(fd) ?? 0) + 1;
    writesIn.set(fd, k);
    stats.maxWritesPerWindow = Math.max(stats.maxWritesPerWindow, k);
    if (k === 2) violations.push(`window ${window}: fd ${fd} wrote twice between two wake-ups (${c.name})`);
    const why = blocked.get(fd);
    if (why !== undefined)
      violations.push(`window ${window}: fd ${fd} ${c.name} after ${why} without EPOLLOUT in between`);
    if (c.errno === 'EAGAIN') {
      stats.writesEagain++;
      blocked.set(fd, `${c.name} = EAGAIN`);
      continue;
    }
    const want = asked(c);
    if (c.ret >= 0 && want !== null && c.ret < want) {
      stats.writesShort++;
      blocked.set(fd, `a short ${c.name} (${c.ret} of ${want})`);
    } else {
      blocked.delete(fd);
    }
  }
  if (main < 0) violations.push('no accept4 in the trace: nothing was checked');
  return { violations, stats };
}
