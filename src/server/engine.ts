/**
 * Which transport carries the plain-TCP listeners and the CGI children (docs/ARCHITECTURE.md "Transports"):
 * the native epoll loop (native/, Linux) or node:net and node:child_process. Chosen once per process, at start:
 * LOCALHOST_TRANSPORT, else the file's `transport`, else native when its addon loads and node when it does not.
 */
import type { TransportName } from '../config/types.js';
import { err, ok, type Result } from '../lib/result.js';
import type { BindSpec } from './listeners.js';
import { loadAddon } from './native/addon.js';
import { NativeLauncher } from './native/launcher.js';
import { NativeListener, type NativeListenOptions } from './native/listener.js';
import { NativeLoop } from './native/loop.js';
import { NodeDialer } from './node/dialer.js';
import { NativeDialer } from './native/dialer.js';
import { NodeLauncher } from './node/launcher.js';
import { NodeListener } from './node/listener.js';
import type { TlsLookup } from './node/transport.js';
import type { Dialer, Launcher, Transport } from './transport.js';

/** A bound listening socket of either kind. */
export interface Acceptor {
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Stops accepting; established connections go on. */
  close(): void;
}

/** What a listener reports besides connections. */
export interface AcceptEvents {
  onConnection(t: Transport): void;
  /** A failed accept, by error code; `paused` when accepting stops for a moment (out of descriptors). */
  onAcceptError(code: string, paused: boolean): void;
}

/** One transport: how to listen and how to start children. */
export interface Engine {
  readonly name: TransportName;
  /** The start-up line saying which transport runs, and why when it is the fallback. */
  readonly line: string;
  readonly launcher: Launcher;
  /** Opens connections to upstreams (node:net on both engines: a libuv handle on the same loop). */
  readonly dialer: Dialer;
  /** Binds `spec`; rejects with an Error whose message is the error code (EADDRINUSE) when it cannot. */
  listen(spec: BindSpec, events: AcceptEvents): Promise<Acceptor>;
  /** Accepts on `fd`, a non-blocking socket already listening for `spec` (a worker's, from the master). */
  adopt(fd: number, spec: BindSpec, events: AcceptEvents): Promise<Acceptor>;
}

/**
 * Binds a node:net listener (or takes over the inherited listening socket `fd`); with `tls`, its connections
 * speak TLS through node:tls. The native engine cannot carry TLS (OpenSSL lives behind node:tls), so every TLS
 * listener is made here, whichever engine runs.
 */
export function nodeListen(
  spec: BindSpec,
  events: AcceptEvents,
  tls: TlsLookup | null,
  fd?: number,
): Promise<Acceptor> {
  return NodeListener.listen(
    {
      host: spec.host,
      port: spec.port,
      backlog: spec.backlog,
      ipv6Only: spec.ipv6Only,
      ...(fd !== undefined ? { fd } : {}),
      onAcceptError: (code) => {
        events.onAcceptError(code, false);
      },
      tls,
    },
    (t) => {
      events.onConnection(t);
    },
  );
}

/** The portable engine; `hidden` are inherited descriptors its CGI children must not get (see NodeLauncher). */
function nodeEngine(line: string, hidden: readonly number[]): Engine {
  return {
    name: 'node',
    line,
    launcher: new NodeLauncher(hidden),
    dialer: new NodeDialer(),
    listen: (spec, events) => nodeListen(spec, events, null),
    adopt: (fd, spec, events) => nodeListen(spec, events, null, fd),
  };
}

/** The native engine on the process's one epoll loop (its launcher closes every inherited descriptor in a child). */
function nativeEngine(loop: NativeLoop): Engine {
  const options = (spec: BindSpec, events: AcceptEvents): NativeListenOptions => ({
    host: spec.host,
    port: spec.port,
    backlog: spec.backlog,
    ipv6Only: spec.ipv6Only,
    onAcceptError: (code, paused) => {
      events.onAcceptError(code, paused);
    },
  });
  const settle = (r: Result<NativeListener, string>): Promise<Acceptor> =>
    r.ok ? Promise.resolve(r.value) : Promise.reject(new Error(r.error));
  const deliver =
    (events: AcceptEvents) =>
    (t: Transport): void => {
      events.onConnection(t);
    };
  return {
    name: 'native',
    line: 'transport: native (epoll, sendfile, posix_spawn)',
    launcher: new NativeLauncher(loop),
    dialer: new NativeDialer(loop),
    listen: (spec, events) => settle(NativeListener.listen(loop, options(spec, events), deliver(events))),
    adopt: (fd, spec, events) => settle(NativeListener.adopt(loop, fd, options(spec, events), deliver(events))),
  };
}

/** Where the choice came from, for messages. */
const ENV = 'LOCALHOST_TRANSPORT';

/**
 * The engine to run on. `fromFile` is the configuration's `transport` (null when unset), `env` the value of
 * LOCALHOST_TRANSPORT. Asking for native where it cannot run is an error (the operator said so); not asking
 * falls back to node with a line saying why. `inherited`: descriptors this process got without close-on-exec
 * (a worker's listening sockets), which CGI children must not inherit.
 */
export function chooseEngine(
  fromFile: TransportName | null,
  env: string | undefined,
  inherited: readonly number[] = [],
): Result<Engine, string> {
  let asked: TransportName | null = fromFile;
  let source = '"transport native" in the configuration';
  if (env !== undefined && env !== '') {
    if (env !== 'native' && env !== 'node') return err(`${ENV}=${env}: expected native or node`);
    asked = env;
    source = `${ENV}=native`;
  }
  if (asked === 'node') return ok(nodeEngine('transport: node (node:net, child_process)', inherited));
  const addon = loadAddon();
  const loop = addon.ok ? NativeLoop.get(addon.value) : addon;
  if (loop.ok) return ok(nativeEngine(loop.value));
  if (asked === 'native') return err(`${source}, but the native transport cannot run: ${loop.error}`);
  return ok(nodeEngine(`transport: node, the portable one (native unavailable: ${loop.error})`, inherited));
}
