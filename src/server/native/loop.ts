/**
 * The native epoll loop, JavaScript side: registrations by fd and generation, the one batch callback, and the
 * deferred work that runs once at the end of each turn.
 *
 * Every registered descriptor gets a fresh 32-bit generation, stored with it in epoll_data. A batch can hold an
 * event for fd 7 that was closed by an earlier event of the same batch and whose number was given to a new
 * descriptor in between: its generation no longer matches the table, and it is dropped (counted in `stale`).
 *
 * Deferred work: transports never make a write system call from inside write(); they ask the loop to run them
 * once the current JavaScript turn is over (a microtask after the batch callback, or after the timer or immediate
 * that wrote). All writes of one turn then leave in one writev, and each descriptor makes at most one write per
 * wake-up: `window` counts wake-ups, and a descriptor that already wrote in this window waits for EPOLLOUT.
 */
import * as os from 'node:os';
import { getSystemErrorName } from 'node:util';
import { CTL_ADD, CTL_DEL, CTL_MOD, type NativeAddon } from './addon.js';
import { err, ok, type Result } from '../../lib/result.js';

/** The errno values the native side handles by name (negated, as the addon returns them). */
export const E = {
  AGAIN: -os.constants.errno.EAGAIN,
  INTR: -os.constants.errno.EINTR,
  BADF: -os.constants.errno.EBADF,
  PIPE: -os.constants.errno.EPIPE,
  INVAL: -os.constants.errno.EINVAL,
  SRCH: -os.constants.errno.ESRCH,
  MFILE: -os.constants.errno.EMFILE,
  NFILE: -os.constants.errno.ENFILE,
  NOBUFS: -os.constants.errno.ENOBUFS,
  NOMEM: -os.constants.errno.ENOMEM,
} as const;

/** Whoever owns a registered descriptor. */
export interface LoopHandler {
  /** The epoll events (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP ...) ready for this descriptor. */
  onEvents(events: number): void;
}

/** Work queued with `defer`: `deferQueued` is the loop's mark that it is already queued (one run per turn). */
export interface Deferred {
  deferQueued: boolean;
  runDeferred(): void;
}

/** One registration: the descriptor's current owner and generation. */
interface Entry {
  readonly gen: number;
  readonly handler: LoopHandler;
}

/** Ready events fetched per batch: a batch never holds more, the rest come on the next turn (level-triggered). */
const CAPACITY = 256;

/** The epoll loop. One per process (the addon holds one epoll set): get it with NativeLoop.get(addon). */
export class NativeLoop {
  /** Wake-ups so far: incremented at each batch; a descriptor writes at most once per value. */
  window = 0;
  /** Events dropped because their generation was stale (the fd was closed, maybe reused, within the batch). */
  stale = 0;
  /** Events seen, in all batches. */
  events = 0;
  /** Descriptors registered now. */
  registered = 0;

  private readonly table: (Entry | undefined)[] = [];
  private nextGen = 1;
  private readonly deferred: Deferred[] = [];
  private deferScheduled = false;
  private failure: string | null = null;
  private referenced = false;

  private static instance: NativeLoop | null = null;

  private constructor(
    readonly addon: NativeAddon,
    private readonly ready: Uint32Array,
  ) {}

  /** The process's loop, opened on first use; an error when the epoll set cannot be created. */
  static get(addon: NativeAddon): Result<NativeLoop, string> {
    const existing = NativeLoop.instance;
    if (existing !== null) return existing.failure === null ? ok(existing) : err(existing.failure);
    let loop: NativeLoop | null = null;
    const r = addon.loopOpen((count) => {
      if (loop !== null) loop.onBatch(count);
    }, CAPACITY);
    if (typeof r === 'number') return err(`cannot open the epoll set: ${errnoName(r)}`);
    loop = new NativeLoop(addon, r);
    NativeLoop.instance = loop;
    return ok(loop);
  }

  /** Why the loop stopped polling (epoll_wait failed), or null while it runs. */
  get error(): string | null {
    return this.failure;
  }

  /** Registers `fd` for `events` (level-triggered): its generation, or -errno. */
  register(fd: number, events: number, handler: LoopHandler): number {
    const gen = this.nextGen;
    this.nextGen = gen >= 0xffffffff ? 1 : gen + 1;
    const rc = this.addon.ctl(CTL_ADD, fd, gen, events);
    if (rc < 0) return rc;
    this.table[fd] = { gen, handler };
    this.registered++;
    this.updateRef();
    return gen;
  }

  /** Changes the events of a registration (0 still reports EPOLLERR and EPOLLHUP, as the kernel always does). */
  modify(fd: number, gen: number, events: number): number {
    if (!this.owns(fd, gen)) return E.BADF;
    return this.addon.ctl(CTL_MOD, fd, gen, events);
  }

  /** Takes `fd` out of the epoll set and adds it back (a descriptor parked after EPOLLHUP, see transport.ts). */
  detach(fd: number, gen: number): number {
    if (!this.owns(fd, gen)) return E.BADF;
    return this.addon.ctl(CTL_DEL, fd, gen, 0);
  }

  /** Puts a detached descriptor back with `events`. */
  reattach(fd: number, gen: number, events: number): number {
    if (!this.owns(fd, gen)) return E.BADF;
    return this.addon.ctl(CTL_ADD, fd, gen, events);
  }

  /** Closes a registered descriptor: out of the epoll set and the table first, then close(2). */
  close(fd: number, gen: number, inEpoll: boolean): number {
    if (!this.owns(fd, gen)) return E.BADF;
    this.table[fd] = undefined;
    this.registered--;
    this.updateRef();
    return this.addon.close(fd, inEpoll);
  }

  /** True while `gen` is the current registration of `fd`. */
  owns(fd: number, gen: number): boolean {
    return this.table[fd]?.gen === gen;
  }

  /** Runs `d.runDeferred()` once, after the current JavaScript turn (see the module comment). */
  defer(d: Deferred): void {
    if (d.deferQueued) return;
    d.deferQueued = true;
    this.deferred.push(d);
    if (!this.deferScheduled) {
      this.deferScheduled = true;
      queueMicrotask(this.runDeferredAll);
    }
  }

  private readonly runDeferredAll = (): void => {
    const list = this.deferred;
    let firstError: unknown = null;
    // Work deferred while this runs (an onDrain that writes) is appended and runs in this same pass; the flag
    // stays set meanwhile so that it queues no second microtask.
    for (let i = 0; i < list.length; i++) {
      const d = list[i];
      if (d === undefined) continue;
      d.deferQueued = false;
      try {
        d.runDeferred();
      } catch (e) {
        firstError ??= e;
      }
    }
    list.length = 0;
    this.deferScheduled = false;
    if (firstError !== null) throw firstError instanceof Error ? firstError : new Error(JSON.stringify(firstError));
  };

  /** The addon's batch callback: dispatch each (fd, events, generation) to its current owner. */
  private onBatch(count: number): void {
    if (count < 0) {
      // epoll_wait itself failed: the addon has stopped polling; say so rather than spin.
      this.failure = `epoll_wait failed: ${errnoName(count)}`;
      process.emitWarning(`native loop stopped: ${this.failure}`);
      return;
    }
    this.window++;
    this.events += count;
    const ready = this.ready;
    const table = this.table;
    let firstError: unknown = null;
    for (let i = 0; i < count; i++) {
      const fd = ready[3 * i] ?? -1;
      const events = ready[3 * i + 1] ?? 0;
      const gen = ready[3 * i + 2] ?? 0;
      const e = table[fd];
      if (e === undefined || e.gen !== gen) {
        this.stale++;
        continue;
      }
      // One handler's exception must not cost the rest of the batch their events: rethrown once all ran.
      try {
        e.handler.onEvents(events);
      } catch (x) {
        firstError ??= x;
      }
    }
    if (firstError !== null) throw firstError instanceof Error ? firstError : new Error(JSON.stringify(firstError));
  }

  /** The epoll set keeps the process alive exactly while something is registered (as open sockets do). */
  private updateRef(): void {
    const want = this.registered > 0;
    if (want !== this.referenced) {
      this.referenced = want;
      this.addon.loopRef(want);
    }
  }
}

/** "ENOENT" for -2, and so on. */
export function errnoName(negErrno: number): string {
  try {
    return getSystemErrorName(negErrno);
  } catch {
    return `errno ${-negErrno}`;
  }
}
