/**
 * Starts a real nginx (the system's /usr/sbin/nginx) serving a directory, for side-by-side comparisons.
 * Its own prefix, pid, logs and temp paths live in a fresh temp dir; it runs in the foreground as our child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './server.js';

export const NGINX = '/usr/sbin/nginx';

/** True when the nginx binary exists and is executable. */
export function nginxAvailable(): boolean {
  try {
    fs.accessSync(NGINX, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RunningNginx {
  readonly port: number;
  /** The temp dir holding nginx.conf, the pid file and the logs. */
  readonly dir: string;
  /** The error log so far (for failure messages). */
  errorLog(): string;
  /** SIGTERM by pid (the master stops its worker), wait for exit, remove the temp dir. */
  stop(): Promise<number | null>;
}

export interface NginxOptions {
  /** Directory served at `/` (`root`). */
  readonly root: string;
  /** Extra directives inside the `server` block. */
  readonly serverExtra?: string;
  /** Whole `server { ... }` blocks to run instead of the default one (`{PORT}` becomes nginx's port): the same
   *  text our server runs, for the routing comparison. */
  readonly servers?: string;
  /** Extra directives inside the `http` block (limit_req_zone, say). */
  readonly httpExtra?: string;
}

/** The config text: stock defaults (`etag on`, `if_modified_since exact`), `autoindex off`, `index index.html`. */
export function nginxConfig(
  dir: string,
  port: number,
  root: string,
  serverExtra = '',
  servers?: string,
  httpExtra = '',
): string {
  const mime = fs.existsSync('/etc/nginx/mime.types') ? 'include /etc/nginx/mime.types;' : '';
  return `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  ${mime}
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${httpExtra}
  ${
    servers?.replaceAll('{PORT}', String(port)) ??
    `server {
    listen 127.0.0.1:${port};
    server_name localhost;
    root ${root};
    autoindex off;
    index index.html;
    ${serverExtra}
  }`
  }
}
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

/** Writes a config, starts `nginx -c CONF -e ERRLOG` in the foreground, waits until its port accepts. */
export async function startNginx(opts: NginxOptions): Promise<RunningNginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-nginx-'));
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const errLog = path.join(dir, 'error.log');
  fs.writeFileSync(conf, nginxConfig(dir, port, opts.root, opts.serverExtra, opts.servers, opts.httpExtra));
  const proc: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-e', errLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const errorLog = (): string => {
    try {
      return out + fs.readFileSync(errLog, 'utf8');
    } catch {
      return out;
    }
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}:\n${errorLog()}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`nginx did not start:\n${errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    dir,
    errorLog,
    stop: async () => {
      const code = await new Promise<number | null>((resolve) => {
        if (proc.exitCode !== null) {
          resolve(proc.exitCode);
          return;
        }
        proc.once('exit', (c) => {
          resolve(c);
        });
        // By pid, never by name: only this master (and through it, its worker) is stopped.
        if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      });
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
