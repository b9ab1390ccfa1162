/**
 * The running server: binds the listeners, accepts connections, runs the timeout sweep, reloads and stops.
 * Everything runs on Node's single event loop.
 */
import * as net from 'node:net';
import type { Config } from '../config/types.js';
import { SessionStores } from '../session/stores.js';
import { isWildcard, type VHostGroup } from '../router/vhost.js';
import { Connection, type ListenerInfo } from './connection.js';
import { currentCounters } from './counters.js';
import { addressLabel, bindSpecs, type BindSpec } from './listeners.js';
import { Logs } from './logs.js';
import { Runtime } from './runtime.js';
import { startSweep } from './timeouts.js';

/** Why the server could not start: a typed value for the CLI to print. */
export class BindError extends Error {
  override readonly name = 'BindError';
  constructor(readonly address: string, readonly code: string) {
    super(`cannot listen on ${address}: ${code}`);
  }
}

interface Listener {
  readonly key: string;
  readonly spec: BindSpec;
  readonly server: net.Server;
}

export class HttpServer {
  private runtime: Runtime;
  private readonly conns = new Set<Connection>();
  private readonly listeners = new Map<string, Listener>();
  private stopSweep: (() => void) | null = null;
  private readonly sessions = new SessionStores();

  constructor(config: Config) {
    this.runtime = new Runtime(config, new Logs(config.servers), this.sessions, currentCounters());
  }

  get config(): Config {
    return this.runtime.config;
  }

  /** Binds every listener; rejects with a BindError naming the address when one cannot be bound. */
  async start(): Promise<string[]> {
    const lines: string[] = [];
    for (const spec of bindSpecs(this.runtime.config)) {
      const l = await this.bind(spec);
      lines.push(`listening on ${addressLabel(spec.host, l.port)}${spec.label !== '' ? ` (${spec.label})` : ''}`);
    }
    this.stopSweep = startSweep(this.conns, () => this.sessions.sweep());
    return lines;
  }

  private bind(spec: BindSpec): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true });
      server.maxConnections = 1_000_000;
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new BindError(addressLabel(spec.host, spec.port), err.code ?? err.message));
      };
      server.once('error', onError);
      server.listen({ host: spec.host, port: spec.port, ipv6Only: spec.ipv6Only, backlog: 511 }, () => {
        server.off('error', onError);
        server.on('error', (err: NodeJS.ErrnoException) => {
          // EMFILE/ENFILE while accepting: log it; libuv retries accepting when descriptors free up.
          this.runtime.logs.error(`accept on ${addressLabel(spec.host, spec.port)}: ${err.code ?? err.message}`);
        });
        const addr0 = server.address();
        const port = typeof addr0 === 'object' && addr0 !== null ? addr0.port : spec.port;
        const info: ListenerInfo = { port, group: this.fixedGroup(spec, port) };
        server.on('connection', (socket: net.Socket) => this.onConnection(socket, info));
        const key = `${spec.host}|${spec.port}`;
        this.listeners.set(key, { key, spec, server });
        const addr = server.address();
        resolve({ port: typeof addr === 'object' && addr !== null ? addr.port : spec.port });
      });
    });
  }

  /** The virtual hosts of a listener when they do not depend on the connection's local address. */
  private fixedGroup(spec: BindSpec, port: number): VHostGroup | null | undefined {
    const vh = this.runtime.vhosts;
    if (!isWildcard(spec.host)) return vh.group(spec.host, port);
    const six = spec.host === '::';
    const specific = this.runtime.config.servers.some(
      (s) => s.ports.includes(port) && !isWildcard(s.host) && s.host.includes(':') === six,
    );
    return specific ? undefined : vh.group(spec.host, port);
  }

  private readonly onConnection = (socket: net.Socket, info: ListenerInfo): void => {
    const c = currentCounters();
    c.accepted++;
    c.handled++;
    c.active++;
    if (this.runtime.shuttingDown) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this.runtime, info, this.onClosed);
    this.conns.add(conn);
  };

  private readonly onClosed = (conn: Connection): void => {
    this.conns.delete(conn);
    if (this.runtime.shuttingDown && this.conns.size === 0) this.onDrained?.();
  };

  private onDrained: (() => void) | null = null;

  /** Stops accepting, lets in-flight responses finish for at most `graceMs`, then closes what remains. */
  stop(graceMs: number): Promise<void> {
    this.runtime.shuttingDown = true;
    this.stopSweep?.();
    this.stopSweep = null;
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
    for (const c of [...this.conns]) c.shutdown();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        for (const c of [...this.conns]) c.destroy();
        this.runtime.logs.close();
        resolve();
      };
      const timer = setTimeout(done, graceMs);
      if (this.conns.size === 0) done();
      else this.onDrained = done;
    });
  }

  /** Flushes buffered log lines (used before exit). */
  flushLogs(): void {
    this.runtime.logs.flush();
  }
}
