/**
 * The master of `worker_processes N` (docs/ARCHITECTURE.md "Worker processes"). It binds the listening sockets
 * once, starts N workers (this same program, each today's single-threaded server) that inherit those sockets as
 * descriptors 4, 5, ... and accept on them, so the kernel hands each connection to one of them, as with nginx; the
 * master itself accepts nothing and serves nothing. It respawns a worker that dies (with a backoff), replaces
 * the generation on SIGHUP, forwards SIGTERM/SIGINT/SIGQUIT/SIGUSR1, and adds up the workers' counters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Config } from '../../config/types.js';
import { loadConfig } from '../../config/load.js';
import type { NativeAddon } from '../native/addon.js';
import { errnoName } from '../native/loop.js';
import { bindSpecs, type BindSpec } from '../listeners.js';
import { combineSamples, cumulative, type Sample } from '../metrics.js';
import {
  FIRST_SOCKET_FD,
  QUICK_DEATH_MS,
  SOCKETS_ENV,
  WORKER_ENV,
  parseWorkerMessage,
  respawnDelay,
  socketKey,
  sumCounters,
  type CounterReport,
  type InheritedSocket,
  type RetireMessage,
  type TotalsMessage,
} from './protocol.js';

/** How long a new worker may take to start serving before its generation is given up. */
const READY_MS = 15_000;
/** Tells a worker of a replaced generation to retire (RetireMessage), or sends SIGQUIT when it cannot be told. */
function retire(proc: ChildProcess): void {
  const msg: RetireMessage = { type: 'retire' };
  try {
    if (proc.connected) {
      proc.send(msg);
      return;
    }
  } catch {
    // the channel closed meanwhile: the signal below does the same, less gently
  }
  proc.kill('SIGQUIT');
}

/** How long workers may drain after SIGTERM before the master kills them. */
const STOP_MS = 8_000;
/** How often the master sends the totals to every worker. */
const TOTALS_MS = 1000;

/** A socket the master holds for its workers. */
interface Held {
  readonly spec: BindSpec;
  readonly fd: number;
}

/** One worker process. */
interface Worker {
  readonly slot: number;
  readonly gen: Generation;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  ready: boolean;
  /** It said it accepts no more (stopping). */
  closed: boolean;
  counters: CounterReport | null;
  /** Its latest metric samples. */
  metrics: readonly Sample[];
}

/** The workers started on one configuration. */
interface Generation {
  readonly id: number;
  readonly count: number;
  readonly sockets: InheritedSocket[];
  /** The descriptors in the order the workers get them (FIRST_SOCKET_FD onwards). */
  readonly fds: number[];
  readonly workers: (Worker | null)[];
  /** Quick deaths in a row per slot, for the backoff. */
  readonly quickDeaths: number[];
  /** Retiring (replaced by a reload, or the master is stopping): its workers are not respawned. */
  retiring: boolean;
}

/** What the master needs from the command line. */
export interface MasterOptions {
  readonly configPath: string;
  readonly strict: boolean;
  /** The arguments each worker is started with (the master's own, minus nothing: the same file and flags). */
  readonly argv: readonly string[];
  /** The start-up line saying which transport the workers run on. */
  readonly transportLine: string;
}

/** The running master. */
export class Master {
  private readonly held = new Map<string, Held>();
  private current: Generation | null = null;
  private readonly generations = new Set<Generation>();
  /** The counters and histograms of workers that exited, so the sums stay monotonic over respawns and reloads. */
  private retiredMetrics: readonly Sample[] = [];
  private nextGen = 1;
  private stopping = false;
  private reloading = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly addon: NativeAddon,
    private readonly opts: MasterOptions,
  ) {}

  /**
   * Binds `config`'s sockets, starts its workers and waits until every one serves. Resolves to the exit code on
   * failure (nothing is left running then), or null once serving.
   */
  async start(config: Config): Promise<number | null> {
    // Before anything is announced: a signal sent the moment "listening on" appears must be handled.
    this.installSignals();
    const sockets = this.bindFor(config);
    if (!sockets.some((s) => 'fd' in s)) {
      // Every address failed: the workers would only say so N times each.
      for (const s of sockets)
        if ('error' in s) process.stderr.write(`cannot listen on ${labelOf(s.key)}: ${s.error}\n`);
      process.stderr.write(`${this.opts.configPath}: no server can run\n`);
      return 1;
    }
    const gen = this.makeGeneration(config.workerProcesses, sockets);
    const ready = await this.whenReady(gen);
    if (this.stopping) return null; // stop() exits once the workers have
    if (ready === null) {
      this.abandon(gen);
      this.closeUnused();
      process.stderr.write(`${this.opts.configPath}: the workers could not start\n`);
      return 1;
    }
    this.current = gen;
    // The workers' line first: whoever waits for "listening on" knows them by then.
    process.stdout.write(`${this.opts.transportLine}\n${this.describe(gen)}\n`);
    for (const l of ready.skipped) process.stderr.write(`${l}\n`);
    for (const l of ready.lines) process.stdout.write(`${l}\n`);
    const totals = setInterval(() => {
      this.broadcastTotals();
    }, TOTALS_MS);
    totals.unref();
    return null;
  }

  private describe(gen: Generation): string {
    const pids = gen.workers.map((w) => (w === null ? '-' : String(w.pid)));
    return `worker_processes ${gen.count}: master ${process.pid}, workers ${pids.join(' ')}`;
  }

  /** Binds every socket `config` needs that is not held yet; the list says where each one is, or why not. */
  private bindFor(config: Config): InheritedSocket[] {
    const out: InheritedSocket[] = [];
    for (const spec of bindSpecs(config.servers)) {
      const key = socketKey(spec);
      let h = this.held.get(key);
      if (h === undefined) {
        const host = spec.host.startsWith('[') && spec.host.endsWith(']') ? spec.host.slice(1, -1) : spec.host;
        const fd = this.addon.listenTcp(host, spec.port, spec.backlog, spec.ipv6Only);
        if (fd < 0) {
          out.push({ key, error: errnoName(fd) });
          continue;
        }
        h = { spec, fd };
        this.held.set(key, h);
      }
      out.push({ key, fd: h.fd });
    }
    return out;
  }

  /** Closes the sockets no live generation uses. */
  private closeUnused(): void {
    const used = new Set<number>();
    for (const g of this.generations) for (const fd of g.fds) used.add(fd);
    for (const [key, h] of this.held) {
      if (!used.has(h.fd)) {
        this.addon.close(h.fd, false);
        this.held.delete(key);
      }
    }
  }

  private makeGeneration(count: number, held: InheritedSocket[]): Generation {
    const fds: number[] = [];
    const sockets = held.map((s): InheritedSocket => {
      if (!('fd' in s)) return s;
      fds.push(s.fd);
      return { key: s.key, fd: FIRST_SOCKET_FD + fds.length - 1 };
    });
    const gen: Generation = {
      id: this.nextGen++,
      count,
      sockets,
      fds,
      workers: new Array<Worker | null>(count).fill(null),
      quickDeaths: new Array<number>(count).fill(0),
      retiring: false,
    };
    this.generations.add(gen);
    for (let slot = 0; slot < count; slot++) this.spawnWorker(gen, slot);
    return gen;
  }

  private spawnWorker(gen: Generation, slot: number): void {
    const script = process.argv[1] ?? '';
    let proc: ChildProcess;
    try {
      proc = spawn(process.execPath, [...process.execArgv, script, ...this.opts.argv], {
        // 0-2 as the master's, 3 the IPC channel, then the listening sockets (dup2'd into place by the spawn).
        stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...gen.fds],
        env: { ...process.env, [WORKER_ENV]: `${slot}/${gen.count}`, [SOCKETS_ENV]: JSON.stringify(gen.sockets) },
      });
    } catch (e) {
      this.log(`worker ${slot}: cannot start: ${e instanceof Error ? e.message : String(e)}`);
      this.scheduleRespawn(gen, slot);
      return;
    }
    const pid = proc.pid;
    if (pid === undefined) {
      proc.on('error', () => {
        // reported below
      });
      this.log(`worker ${slot}: cannot start`);
      this.scheduleRespawn(gen, slot);
      return;
    }
    const w: Worker = {
      slot,
      gen,
      proc,
      pid,
      startedAt: Date.now(),
      ready: false,
      closed: false,
      counters: null,
      metrics: [],
    };
    gen.workers[slot] = w;
    proc.on('message', (m: unknown) => {
      const msg = parseWorkerMessage(m);
      if (msg === null) return;
      if (msg.type === 'ready') {
        w.ready = true;
        // At once, not at the next broadcast: a metrics page needs the sums before it can answer.
        this.sendTotals(w, this.totals(gen));
        proc.emit('localhost-ready', msg.lines, msg.skipped);
      } else if (msg.type === 'closed') {
        w.closed = true;
        proc.emit('localhost-closed');
      } else {
        w.counters = msg.counters;
        w.metrics = msg.metrics;
      }
    });
    proc.on('error', () => {
      // A failed signal or send: the 'exit' handler does the accounting.
    });
    proc.on('exit', (code, signal) => {
      this.onExit(w, code, signal);
    });
  }

  private onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const gen = w.gen;
    // Its last report (up to 1 s old) stays in the sums: a respawn must not look like a counter reset.
    const kept = w.metrics.filter((s) => cumulative(s[0]));
    this.retiredMetrics = combineSamples([this.retiredMetrics, kept]);
    if (gen.workers[w.slot] === w) gen.workers[w.slot] = null;
    if (gen.workers.every((x) => x === null) && gen.retiring) {
      this.generations.delete(gen);
      this.closeUnused();
      if (this.stopping && this.generations.size === 0) this.finish();
      return;
    }
    if (gen.retiring || this.stopping) return;
    const how = signal !== null ? `on ${signal}` : `with status ${code ?? '?'}`;
    const lived = Date.now() - w.startedAt;
    gen.quickDeaths[w.slot] = lived < QUICK_DEATH_MS ? (gen.quickDeaths[w.slot] ?? 0) + 1 : 0;
    if (!w.ready && gen !== this.current) return; // a generation still starting: whenReady gives it up
    const delay = this.scheduleRespawn(gen, w.slot);
    this.log(`worker ${w.slot} (pid ${w.pid}) exited ${how}; starting another in ${delay} ms`);
  }

  private scheduleRespawn(gen: Generation, slot: number): number {
    const delay = respawnDelay(Math.max(0, (gen.quickDeaths[slot] ?? 0) - 1));
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!gen.retiring && !this.stopping && gen.workers[slot] === null) this.spawnWorker(gen, slot);
    }, delay);
    this.timers.add(t);
    return delay;
  }

  /** Waits until every worker of `gen` says it serves; null when one exits first or READY_MS passes. */
  private whenReady(gen: Generation): Promise<{ lines: readonly string[]; skipped: readonly string[] } | null> {
    return new Promise((resolve) => {
      let first: { lines: readonly string[]; skipped: readonly string[] } | null = null;
      let settled = false;
      const settle = (v: typeof first): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        settle(null);
      }, READY_MS);
      for (const w of gen.workers) {
        if (w === null) {
          settle(null);
          return;
        }
        w.proc.once('localhost-ready', (lines: string[], skipped: string[]) => {
          if (w.slot === 0) first = { lines, skipped };
          if (gen.workers.every((x) => x !== null && x.ready)) settle(first ?? { lines, skipped });
        });
        w.proc.once('exit', () => {
          if (!w.ready) settle(null);
        });
      }
    });
  }

  /** Resolves once every worker of `gen` has closed its listeners or exited (at most STOP_MS). */
  private whenClosed(gen: Generation): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, STOP_MS);
      const check = (): void => {
        if (gen.workers.every((w) => w === null || w.closed)) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const w of gen.workers) {
        w?.proc.once('localhost-closed', check);
        w?.proc.once('exit', () => {
          setImmediate(check); // after onExit cleared the slot
        });
      }
      check();
    });
  }

  /** Kills a generation that did not start. */
  private abandon(gen: Generation): void {
    gen.retiring = true;
    for (const w of gen.workers) w?.proc.kill('SIGKILL');
    if (gen.workers.every((w) => w === null)) this.generations.delete(gen);
  }

  /** Sends the sums of the current generation's latest reports to each of its workers. */
  private broadcastTotals(): void {
    const gen = this.current;
    if (gen === null) return;
    const msg = this.totals(gen);
    for (const w of gen.workers) if (w !== null) this.sendTotals(w, msg);
  }

  /** The sums a worker of `gen` shows: its generation's stub_status counters, and the metrics of all. */
  private totals(gen: Generation): TotalsMessage {
    const reports = gen.workers.flatMap((w) => (w?.counters != null ? [w.counters] : []));
    // Metrics of every live worker, the retiring generation's too (they still serve), plus those that exited.
    const metrics = [this.retiredMetrics];
    for (const g of this.generations) for (const w of g.workers) if (w !== null) metrics.push(w.metrics);
    return { type: 'totals', workers: gen.count, counters: sumCounters(reports), metrics: combineSamples(metrics) };
  }

  private sendTotals(w: Worker, msg: TotalsMessage): void {
    if (!w.proc.connected) return;
    try {
      w.proc.send(msg);
    } catch {
      // the worker is going; its exit is handled
    }
  }

  private installSignals(): void {
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
      process.on(sig, () => {
        this.stop(sig);
      });
    }
    process.on('SIGHUP', () => {
      void this.reload();
    });
    process.on('SIGUSR1', () => {
      this.signalAll('SIGUSR1');
    });
  }

  private signalAll(sig: NodeJS.Signals): void {
    for (const g of this.generations) for (const w of g.workers) w?.proc.kill(sig);
  }

  /** SIGTERM/SIGINT/SIGQUIT: every worker gets it (they finish in-flight responses), then the master exits 0. */
  stop(sig: NodeJS.Signals): void {
    if (this.stopping) return;
    this.stopping = true;
    process.stdout.write(`${sig}: shutting down\n`);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const g of this.generations) g.retiring = true;
    // A worker takes SIGINT from a terminal by itself (same process group); each handles a second one idly.
    this.signalAll(sig === 'SIGQUIT' ? 'SIGQUIT' : 'SIGTERM');
    for (const g of [...this.generations]) if (g.workers.every((w) => w === null)) this.generations.delete(g);
    if (this.generations.size === 0) {
      this.finish();
      return;
    }
    setTimeout(() => {
      this.signalAll('SIGKILL');
      setTimeout(() => {
        this.finish();
      }, 500).unref();
    }, STOP_MS).unref();
  }

  private finish(): void {
    for (const h of this.held.values()) this.addon.close(h.fd, false);
    this.held.clear();
    process.exit(0);
  }

  /**
   * SIGHUP: reads the file again; if it can run, binds what it adds, starts a new generation on it, and once
   * every new worker serves, retires the old one (its workers stop accepting and finish what they have). If the
   * file cannot be used or the new workers do not start, the running generation goes on.
   */
  async reload(): Promise<void> {
    const old = this.current;
    if (this.stopping || this.reloading || old === null) return;
    this.reloading = true;
    try {
      const next = loadConfig(this.opts.configPath, { strict: this.opts.strict });
      if (!next.ok) {
        this.log(`reload failed, keeping the running configuration:\n${next.errors.map((e) => e.message).join('\n')}`);
        return;
      }
      const gen = this.makeGeneration(next.config.workerProcesses, this.bindFor(next.config));
      const ready = await this.whenReady(gen);
      if (this.isStopping()) return; // stop() came meanwhile: it takes this generation down with the rest
      if (ready === null) {
        this.abandon(gen);
        this.closeUnused();
        this.log('reload failed, keeping the running configuration: the new workers did not start');
        return;
      }
      this.current = gen;
      old.retiring = true;
      // Retired: they stop accepting and serve the connections they have until those close or idle out (see
      // HttpServer.stop's 'retire'); SIGQUIT where the channel is gone.
      const closing = this.whenClosed(old);
      for (const w of old.workers) if (w !== null) retire(w.proc);
      if (old.workers.every((w) => w === null)) this.generations.delete(old);
      // "reloaded" means what it says: from now on only the new workers accept.
      await closing;
      this.closeUnused();
      for (const l of ready.skipped) this.log(`reload: ${l}`);
      process.stdout.write(`${this.describe(gen)}\n`);
      for (const l of ready.lines) process.stdout.write(`${l}\n`);
      process.stdout.write('reloaded\n');
    } finally {
      this.reloading = false;
    }
  }

  /** Read through a call: a signal handler may have set it while a reload awaited. */
  private isStopping(): boolean {
    return this.stopping;
  }

  private log(message: string): void {
    process.stderr.write(`[${new Date().toISOString()}] master: ${message}\n`);
  }
}

/** "host:port" from a socket key, for messages. */
function labelOf(key: string): string {
  const [host = '', port = ''] = key.split('|');
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
