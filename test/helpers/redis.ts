/** A real redis-server for the tests, in a temp dir of the caller's, without persistence; stopped by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopProcess } from './server.js';

/** Starts redis-server on 127.0.0.1:`port` and resolves once it accepts connections. */
export function startRedis(dir: string, port: number): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`redis-server did not start:\n${out}`));
    }, 10_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(t);
        resolve(p);
      }
    });
    p.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

/** SIGTERM to this redis-server, resolved when it has exited. */
export const stopRedis = (p: ChildProcess): Promise<void> => stopProcess(p);
