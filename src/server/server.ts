/**
 * The running server: binds the listeners, accepts connections, runs the timeout sweep, reloads and stops.
 * Everything runs on Node's single event loop.
 */
import * as net from 'node:net';
import type { Config } from '../config/types.js';
import { isWildcard, type VHostGroup } from '../router/vhost.js';
import { SessionStores } from '../session/stores.js';
import { Connection, type ListenerInfo } from './connection.js';
import { currentCounters } from './counters.js';
import { addressLabel, bindSpecs, type BindSpec } from './listeners.js';
import { Logs } from './logs.js';
import { Runtime } from './runtime.js';
import { startSweep } from './timeouts.js';

/** Why a listener could not be bound: a typed value for the CLI to print. */
export class BindError extends Error {
  override readonly name = 'BindError';
  constructor(
    readonly address: string,
    readonly code: string,
  ) {
    super(`cannot listen on ${address}: ${code}`);
  }
}

/** A bound socket and what its connections need to know; `info` is replaced on reload. */
interface Listener {
  readonly spec: BindSpec;
  readonly server: net.Server;
  readonly port: number;
  info: ListenerInfo;
}

const keyOf = (spec: BindSpec): string => `${spec.host}|${spec.port}|${spec.ipv6Only ? 6 : ''}`;

export class HttpServer {
  private runtime: Runtime;
  private readonly conns = new Set<Connection>();
  private readonly listeners = new Map<string, Listener>();
  /** Connections per runtime, so a configuration replaced by a reload can close its logs when its last one ends. */
  private readonly users = new Map<Runtime, number>();
  private stopSweep: (() => void) | null = null;
  private readonly sessions = new SessionStores();
  private onDrained: (() => void) | null = null;

  constructor(config: Config) {
    this.runtime = new Runtime(config, new Logs(config.servers), this.sessions);
  }

  get config(): Config {
    return this.runtime.config;
  }

  /** Binds every listener and returns the start-up lines; on failure closes what was bound and throws BindError. */
  async start(): Promise<string[]> {
    const lines: string[] = [];
    try {
      for (const spec of bindSpecs(this.runtime.config)) {
        const l = await this.bind(spec);
        lines.push(this.startLine(l));
      }
    } catch (err) {
      for (const l of this.listeners.values()) l.server.close();
      this.listeners.clear();
      throw err;
    }
    this.stopSweep = startSweep(this.conns, () => this.sessions.sweep());
    return lines;
  }

  private startLine(l: Listener): string {
    return `listening on ${addressLabel(l.spec.host, l.port)}${l.spec.label !== '' ? ` (${l.spec.label})` : ''}`;
  }

  private bind(spec: BindSpec): Promise<Listener> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: false });
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new BindError(addressLabel(spec.host, spec.port), err.code ?? err.message));
      };
      server.once('error', onError);
      server.listen({ host: spec.host, port: spec.port, ipv6Only: spec.ipv6Only, backlog: 511 }, () => {
        server.off('error', onError);
        server.on('error', (err: NodeJS.ErrnoException) => {
          // Accept errors other than EMFILE/ENFILE (libuv answers those itself: it frees a reserved descriptor,
          // accepts and closes the pending connections, and reports nothing; see the fd-exhaustion test).
          this.runtime.logs.error(`accept on ${addressLabel(spec.host, spec.port)}: ${err.code ?? err.message}`);
        });
        const a = server.address();
        const port = typeof a === 'object' && a !== null ? a.port : spec.port;
        const l: Listener = { spec, server, port, info: { port, group: this.fixedGroup(this.runtime, spec, port) } };
        server.on('connection', (socket: net.Socket) => this.accept(socket, l));
        this.listeners.set(keyOf(spec), l);
        resolve(l);
      });
    });
  }

  /** The virtual hosts of a listener when they do not depend on the connection's local address. */
  private fixedGroup(rt: Runtime, spec: BindSpec, port: number): VHostGroup | null | undefined {
    if (!isWildcard(spec.host)) return rt.vhosts.group(spec.host, port);
    const six = spec.host === '::';
    const specific = rt.config.servers.some((s) => s.ports.includes(port) && !isWildcard(s.host) && s.host.includes(':') === six);
    return specific ? undefined : rt.vhosts.group(spec.host, port);
  }

  private accept(socket: net.Socket, l: Listener): void {
    const c = currentCounters();
    c.accepted++;
    c.handled++;
    c.active++;
    const rt = this.runtime;
    if (rt.shuttingDown) {
      socket.destroy();
      c.active--;
      return;
    }
    this.users.set(rt, (this.users.get(rt) ?? 0) + 1);
    this.conns.add(new Connection(socket, rt, l.info, this.onClosed));
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
    if (this.runtime.shuttingDown && this.conns.size === 0) this.onDrained?.();
  };

  /**
   * Replaces the configuration (SIGHUP): new listeners are bound, removed ones closed, kept ones carry the new
   * servers; open connections finish under the configuration they started with. If a new address cannot be
   * bound, the reload is undone and the old configuration stays. Returns the log lines describing the change.
   */
  async reload(config: Config): Promise<string[]> {
    const old = this.runtime;
    const next = new Runtime(config, new Logs(config.servers), this.sessions);
    const wanted = new Map(bindSpecs(config).map((s) => [keyOf(s), s] as const));
    const added: Listener[] = [];
    this.runtime = next;
    try {
      for (const [key, spec] of wanted) {
        if (!this.listeners.has(key)) added.push(await this.bind(spec));
      }
    } catch (err) {
      for (const l of added) {
        l.server.close();
        this.listeners.delete(keyOf(l.spec));
      }
      this.runtime = old;
      next.logs.close();
      throw err;
    }
    const lines: string[] = [];
    for (const [key, l] of this.listeners) {
      if (!wanted.has(key)) {
        l.server.close();
        this.listeners.delete(key);
        lines.push(`closed ${addressLabel(l.spec.host, l.port)}`);
      } else {
        l.info = { port: l.port, group: this.fixedGroup(next, l.spec, l.port) };
      }
    }
    for (const l of added) lines.push(this.startLine(l));
    if (!this.users.has(old)) old.logs.close();
    return lines;
  }

  /** Writes a line to the current error log. */
  logInfo(message: string): void {
    this.runtime.logs.info(message);
  }

  logError(message: string): void {
    this.runtime.logs.error(message);
  }

  /** Stops accepting, lets in-flight responses finish for at most `graceMs`, then closes what remains. */
  stop(graceMs: number): Promise<void> {
    const runtimes = new Set([this.runtime, ...this.users.keys()]);
    for (const rt of runtimes) rt.shuttingDown = true;
    this.stopSweep?.();
    this.stopSweep = null;
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
    for (const c of [...this.conns]) c.shutdown();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onDrained = null;
        for (const c of [...this.conns]) c.destroy();
        for (const rt of runtimes) rt.logs.close();
        resolve();
      };
      const timer = setTimeout(done, graceMs);
      if (this.conns.size === 0) done();
      else this.onDrained = done;
    });
  }
}
