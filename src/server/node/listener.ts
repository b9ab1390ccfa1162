/**
 * NodeListener: a listening TCP socket made by node:net (libuv's epoll), handing each accepted connection over
 * as a NodeTransport. The portable twin of native/listener.ts.
 */
import * as net from 'node:net';
import { NodeTransport, type TlsLookup } from './transport.js';

/** Where and how to listen (host is a numeric address). */
export interface NodeListenOptions {
  readonly host: string;
  readonly port: number;
  readonly backlog: number;
  readonly ipv6Only: boolean;
  /** A socket already bound and listening (a worker's, inherited from the master): accept on it instead of binding
   *  host and port. listen(2) runs again on it with `backlog`, which keeps the queue's length. */
  readonly fd?: number;
  /** Told of each failed accept by its code (libuv answers EMFILE/ENFILE itself and reports nothing: it frees
   *  a reserved descriptor, accepts and closes the pending connections; see the fd-exhaustion test). */
  readonly onAcceptError: (code: string) => void;
  /** Set for a TLS listener: each connection's handshake is driven by node:tls with the certificates it finds. */
  readonly tls?: TlsLookup | null | undefined;
}

/** A bound node:net server. */
export class NodeListener {
  private constructor(
    private readonly server: net.Server,
    /** The bound port (the real one when 0 was asked). */
    readonly port: number,
  ) {}

  /** Binds and listens; rejects with an Error whose message is the error code (EADDRINUSE) when it cannot. */
  static listen(opts: NodeListenOptions, onConnection: (t: NodeTransport) => void): Promise<NodeListener> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: false });
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(new Error(e.code ?? e.message));
      };
      server.once('error', onError);
      const where =
        opts.fd !== undefined
          ? { fd: opts.fd, backlog: opts.backlog }
          : { host: opts.host, port: opts.port, ipv6Only: opts.ipv6Only, backlog: opts.backlog };
      server.listen(where, () => {
        server.off('error', onError);
        server.on('error', (e: NodeJS.ErrnoException) => {
          opts.onAcceptError(e.code ?? e.message);
        });
        server.on('connection', (socket: net.Socket) => {
          onConnection(new NodeTransport(socket, opts.tls ?? null));
        });
        const a = server.address();
        resolve(new NodeListener(server, typeof a === 'object' && a !== null ? a.port : opts.port));
      });
    });
  }

  /** Stops accepting (established connections go on). */
  close(): void {
    this.server.close();
  }
}
