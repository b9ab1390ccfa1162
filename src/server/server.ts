/**
 * The running server: binds the listeners, accepts connections, runs the timeout sweep, reloads and stops.
 * Everything runs on Node's single event loop.
 */
import { AccessServices } from '../access/gate.js';
import type { Config } from '../config/types.js';
import { setErrorPageLog } from '../handlers/error-page.js';
import { isWildcard, type VHostGroup } from '../router/vhost.js';
import { SessionStores } from '../session/stores.js';
import { Connection } from './connection.js';
import { currentCounters } from './counters.js';
import { setMetricSources } from './metrics.js';
import { nodeListen, type Acceptor, type AcceptEvents, type Engine } from './engine.js';
import { addressLabel, bindSpecs, type BindSpec, type ListenerInfo } from './listeners.js';
import { Logs } from './logs.js';
import { Runtime, type Services } from './runtime.js';
import { Sweep } from './timeouts.js';
import type { Transport } from './transport.js';

/** Why no server could start (or, with `strict`, why one could not): every bind failure, as FILE:LINE:COL lines. */
export class BindError extends Error {
  override readonly name = 'BindError';
  constructor(readonly failures: readonly string[]) {
    super(failures.join('\n'));
  }
}

/** A bound socket and what its connections need to know; `info` is replaced on reload. */
interface Listener {
  readonly spec: BindSpec;
  readonly acceptor: Acceptor;
  readonly port: number;
  /** Null until the configuration it serves is settled; connections arriving before wait in `early`. */
  info: ListenerInfo | null;
  early: Transport[];
}

/** What binding a configuration gave: the servers that run, and a FILE:LINE:COL line per server skipped. */
export interface BindOutcome {
  /** "listening on ..." and "closed ..." lines. */
  readonly lines: string[];
  /** One line per server skipped because an address could not be bound. */
  readonly skipped: string[];
}

/** How long a retiring worker keeps a connection that has gone idle (see stop's 'retire'). */
const RETIRE_IDLE_MS = 1000;
/** The end of a retiring worker's grace in which each connection's next answer says `Connection: close`. */
const RETIRE_CLOSE_MS = 5000;

const keyOf = (spec: { host: string; port: number; ipv6Only: boolean; ssl: boolean }): string =>
  `${spec.host}|${spec.port}|${spec.ipv6Only ? 6 : ''}|${spec.ssl ? 'tls' : ''}`;

export class HttpServer {
  private runtime: Runtime | null = null;
  private readonly conns = new Set<Connection>();
  private readonly listeners = new Map<string, Listener>();
  /** Connections per runtime, so a configuration replaced by a reload can close its logs when its last one ends. */
  private readonly users = new Map<Runtime, number>();
  private readonly sessions = new SessionStores((message) => {
    this.logError(message);
  });
  /** What every configuration shares: the session stores, the one sweep, the launcher. */
  private readonly services: Services;
  private onDrained: (() => void) | null = null;

  /** `engine` is the transport every listener and CGI child of this process uses (see engine.ts). */
  constructor(
    private readonly initial: Config,
    private readonly engine: Engine,
  ) {
    this.services = {
      sessions: this.sessions,
      sweep: new Sweep(this.conns, () => this.sessions.sweep()),
      launcher: engine.launcher,
      access: new AccessServices((message) => {
        this.logError(message);
      }),
      dialer: engine.dialer,
    };
    setMetricSources(engine.name, () => this.sessions.live);
    // An error_page file that cannot be read at run time is reported in the current error log.
    setErrorPageLog((message) => {
      this.logError(message);
    });
  }

  /** Binds every listener it can and starts serving. Throws BindError when no server can run (with `strict`, when
   *  any address cannot be bound); then nothing stays bound. */
  async start(): Promise<BindOutcome> {
    const { config, added, skipped } = await this.bindAll(this.initial);
    this.runtime = new Runtime(config, new Logs(config.servers), this.services);
    this.sessions.connect(config.servers);
    for (const l of added) this.activate(l, this.runtime);
    this.services.sweep.start();
    return { lines: added.map((l) => this.startLine(l)), skipped };
  }

  /**
   * Binds what `config` needs and is not bound yet. A server whose address cannot be bound is skipped (its other
   * sockets are not kept for it) and the rest go on; with `strict`, or when no server is left, everything this call
   * bound is closed again and BindError is thrown.
   */
  private async bindAll(config: Config): Promise<{ config: Config; added: Listener[]; skipped: string[] }> {
    let servers = config.servers;
    const added = new Map<string, Listener>();
    const skipped: string[] = [];
    const undo = (): void => {
      for (const l of added.values()) l.acceptor.close();
    };
    for (;;) {
      let failure: { spec: BindSpec; code: string } | null = null;
      for (const spec of bindSpecs(servers)) {
        const key = keyOf(spec);
        if (this.listeners.has(key) || added.has(key)) continue;
        try {
          added.set(key, await this.bind(spec));
        } catch (err) {
          failure = { spec, code: err instanceof Error ? err.message : String(err) };
          break;
        }
      }
      if (failure === null) break;
      const { spec, code } = failure;
      const suffix = config.strict ? '' : ' (server skipped)';
      for (const s of spec.servers) {
        const pos =
          s.listens.find((l) => l.port === spec.port && (l.host === spec.host || isWildcard(spec.host)))?.pos ?? s.pos;
        skipped.push(
          `${pos.file}:${pos.line}:${pos.col}: cannot listen on ${addressLabel(spec.host, spec.port)}: ${code}${suffix}`,
        );
      }
      servers = servers.filter((s) => !spec.servers.includes(s));
      if (config.strict || servers.length === 0) {
        undo();
        throw new BindError(skipped);
      }
    }
    // Sockets bound only for servers skipped afterwards are not kept.
    const wanted = new Set(bindSpecs(servers).map(keyOf));
    for (const [key, l] of added) {
      if (!wanted.has(key)) {
        l.acceptor.close();
        added.delete(key);
      }
    }
    for (const [key, l] of added) this.listeners.set(key, l);
    return { config: { ...config, servers }, added: [...added.values()], skipped };
  }

  private startLine(l: Listener): string {
    const tls = l.spec.ssl ? ' tls' : '';
    return `listening on ${addressLabel(l.spec.host, l.port)}${tls}${l.spec.label !== '' ? ` (${l.spec.label})` : ''}`;
  }

  private async bind(spec: BindSpec): Promise<Listener> {
    const early: Transport[] = [];
    let self: Listener | null = null;
    const events: AcceptEvents = {
      onConnection: (t) => {
        if (self === null) early.push(t);
        else if (self.info === null) self.early.push(t);
        else this.accept(t, self.info);
      },
      onAcceptError: (code, paused) => {
        // Not EMFILE/ENFILE on node:net: libuv answers those itself (it frees a reserved descriptor, accepts and
        // closes the pending connections, and reports nothing; see the fd-exhaustion test).
        const what = `accept on ${addressLabel(spec.host, spec.port)}: ${code}`;
        this.runtime?.logs.error(paused ? `${what} (accepting paused)` : what);
      },
    };
    // A TLS connection gets the certificates of the configuration current when its handshake starts (so after a
    // reload, new connections get the new ones), for the servers reached through its local address.
    const acceptor = spec.ssl
      ? await nodeListen(spec, events, (t) => {
          const rt = this.runtime;
          const port = self?.port ?? spec.port;
          return rt === null ? null : rt.tls.forGroup(rt.vhosts.group(t.localAddress, port));
        })
      : await this.engine.listen(spec, events);
    self = { spec, acceptor, port: acceptor.port, info: null, early };
    return self;
  }

  /** Points a listener at a configuration, and lets in what arrived before it was settled. */
  private activate(l: Listener, rt: Runtime): void {
    l.info = { port: l.port, group: this.fixedGroup(rt, l.spec, l.port) };
    const early = l.early;
    l.early = [];
    for (const t of early) this.accept(t, l.info);
  }

  /** The virtual hosts of a listener when they do not depend on the connection's local address. */
  private fixedGroup(rt: Runtime, spec: BindSpec, port: number): VHostGroup | null | undefined {
    if (!isWildcard(spec.host)) return rt.vhosts.group(spec.host, port);
    const six = spec.host === '::';
    const specific = rt.config.servers.some((s) =>
      s.listens.some((l) => l.port === port && !isWildcard(l.host) && l.host.includes(':') === six),
    );
    return specific ? undefined : rt.vhosts.group(spec.host, port);
  }

  private accept(t: Transport, info: ListenerInfo): void {
    const c = currentCounters();
    c.accepted++;
    c.handled++;
    c.active++;
    const rt = this.runtime;
    if (rt === null || rt.shuttingDown) {
      t.destroy();
      c.active--;
      return;
    }
    this.users.set(rt, (this.users.get(rt) ?? 0) + 1);
    this.conns.add(new Connection(t, rt, info, this.onClosed));
  }

  private readonly onClosed = (conn: Connection): void => {
    this.conns.delete(conn);
    const rt = conn.runtime;
    const n = (this.users.get(rt) ?? 1) - 1;
    if (n > 0) this.users.set(rt, n);
    else {
      this.users.delete(rt);
      if (rt !== this.runtime) rt.logs.close(); // a reloaded-away configuration's last connection
    }
    if (this.conns.size === 0) this.onDrained?.(); // set only while stopping
  };

  /**
   * Replaces the configuration (SIGHUP): new listeners are bound, removed ones closed, kept ones carry the new
   * servers; open connections finish under the configuration they started with. A new server whose address
   * cannot be bound is skipped (with `strict`, or when none is left, the reload is undone and BindError thrown).
   */
  async reload(config: Config): Promise<BindOutcome> {
    const old = this.runtime;
    if (old === null) throw new Error('reload before start');
    const { config: runnable, added, skipped } = await this.bindAll(config);
    const next = new Runtime(runnable, new Logs(runnable.servers), this.services);
    this.runtime = next;
    this.sessions.connect(runnable.servers);
    const wanted = new Set(bindSpecs(runnable.servers).map(keyOf));
    const lines: string[] = [];
    for (const [key, l] of this.listeners) {
      if (!wanted.has(key)) {
        l.acceptor.close();
        this.listeners.delete(key);
        lines.push(`closed ${addressLabel(l.spec.host, l.port)}`);
      } else {
        this.activate(l, next);
      }
    }
    for (const l of added) lines.push(this.startLine(l));
    if (!this.users.has(old)) old.logs.close();
    return { lines, skipped };
  }

  /** Writes a line to the current error log. */
  logInfo(message: string): void {
    if (this.runtime !== null) this.runtime.logs.info(message);
    else process.stderr.write(`${message}\n`);
  }

  logError(message: string): void {
    if (this.runtime !== null) this.runtime.logs.error(message);
    else process.stderr.write(`${message}\n`);
  }

  /** Reopens the log files of every configuration still in use (SIGUSR1). */
  reopenLogs(): void {
    const runtimes = new Set([...(this.runtime !== null ? [this.runtime] : []), ...this.users.keys()]);
    for (const rt of runtimes) rt.logs.reopen();
  }

  /**
   * Stops accepting, lets in-flight responses finish for at most `graceMs`, then closes what remains. `mode`:
   * - 'close-idle' (SIGTERM): idle keep-alive connections close at once, busy ones after their response;
   * - 'keep-idle' (SIGQUIT): a request that arrives on an idle connection is still answered, with
   *   `Connection: close`, so a client that sends it just as the server stops does not lose it;
   * - 'retire' (a worker replaced by a reload): connections are served as before, keep-alive included, until each
   *   closes or has been idle for RETIRE_IDLE_MS (the sweep goes on), much as a single process's reload leaves them. A
   *   client that ignores `Connection: close` and writes its next request anyway (siege does) loses nothing. For
   *   the last RETIRE_CLOSE_MS of the grace it acts as 'keep-idle', so a connection busy all along gets a last
   *   answer with `Connection: close` rather than a cut when the grace ends.
   */
  stop(graceMs: number, mode: 'close-idle' | 'keep-idle' | 'retire' = 'close-idle'): Promise<void> {
    const runtimes = new Set([...(this.runtime !== null ? [this.runtime] : []), ...this.users.keys()]);
    if (mode !== 'retire') {
      for (const rt of runtimes) rt.shuttingDown = true;
      this.services.sweep.stop();
    }
    for (const l of this.listeners.values()) l.acceptor.close();
    this.listeners.clear();
    if (mode === 'close-idle') for (const c of [...this.conns]) c.shutdown();
    // Retiring, a connection quiet (idle, or no byte of a head yet) for RETIRE_IDLE_MS is closed by the sweep:
    // keep-alive clients have moved to the new workers by then; the worker does not wait out every timeout.
    const capIdle =
      mode !== 'retire'
        ? null
        : setInterval(() => {
            const until = Date.now() + RETIRE_IDLE_MS;
            for (const c of this.conns) if (c.quiet && c.deadline > until) c.deadline = until;
          }, RETIRE_IDLE_MS / 4);
    const closing =
      mode !== 'retire'
        ? null
        : setTimeout(
            () => {
              for (const rt of runtimes) rt.shuttingDown = true;
            },
            Math.max(0, graceMs - RETIRE_CLOSE_MS),
          );
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.conns.size > 0)
          this.logInfo(`stopping: ${this.conns.size} connections cut at the grace's end (${statesOf(this.conns)})`);
        if (capIdle !== null) clearInterval(capIdle);
        if (closing !== null) clearTimeout(closing);
        this.onDrained = null;
        this.services.sweep.stop();
        for (const c of [...this.conns]) c.destroy();
        for (const rt of runtimes) rt.logs.close();
        this.sessions.close();
        resolve();
      };
      const timer = setTimeout(done, graceMs);
      if (this.conns.size === 0) done();
      else this.onDrained = done;
    });
  }
}

/** "2 writing, 1 head": how many connections are in each state, for the log. */
function statesOf(conns: Iterable<Connection>): string {
  const n = new Map<string, number>();
  for (const c of conns) n.set(c.state, (n.get(c.state) ?? 0) + 1);
  return [...n].map(([state, count]) => `${count} ${state}`).join(', ');
}
