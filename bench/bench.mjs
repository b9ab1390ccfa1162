#!/usr/bin/env node
// Side-by-side benchmark: our server on each transport (native epoll, and node:net), nginx and lighttpd on the same
// generated files, each server pinned to CPU 0 and wrk to CPU 1, scenarios run on every server in turn, repeated
// and interleaved. Prints markdown tables: requests/s, server CPU per request, p99 latency, and the ratios.
//
// Server CPU per request is the utime+stime that /proc/PID/stat gains during the measured run, divided by the
// requests wrk completed: nginx's worker, lighttpd's process, our process (CGI children are not counted for anyone:
// the script's own CPU is the same everywhere). On this 2-core machine wrk often saturates before the server, so
// requests/s alone understates the difference; CPU per request does not.
//
// A fifth server, "bare Node" (bench/node-floor.mjs: a fixed 1 KiB answer, or spawn for the CGI), runs the
// keep-alive, `Connection: close` and CGI scenarios: the floor of any server on node:net and child_process.
//
// Issue 16's rows: a 100 KiB JavaScript file with `Accept-Encoding: gzip` (ours `gzip on`, nginx `gzip on` at its
// default level 1) and with a browser's `br, gzip` (nginx, without brotli, sends gzip); HTTPS 1 KiB keep-alive and
// new TLS connections (`Connection: close`: a full handshake per request), one ECDSA P-256 certificate for both,
// nginx with ssl_session_cache and tickets off; and RSS with 1,000 idle TLS connections.
//
// Issue 18's row `ws`: WebSocket echo through the proxy (ours: a bare proxy_pass; nginx: proxy_http_version 1.1 and
// the two proxy_set_header lines it needs) to one echo backend (bench/ws-echo.mjs, on the client's CPU with the
// load client): 50 connections, each a ping-pong of 64-byte messages; messages/s and server CPU per message, with
// the backend reached directly as the floor. The sessions row runs ours (native) with sessions in memory and in
// Redis (a redis-server on the client's CPU): a static file in a `session on` location read with a session cookie,
// and the CGI session demo.
//
// Usage: node bench/bench.mjs [--duration S] [--repeat N] [--only NAME,...] [--out FILE] [--node-flags 'FLAGS']
//                              [--baseline DIR]
//   --node-flags: Node's flags for our server (default: those of `npm start` in package.json).
//   --baseline: a built checkout of another commit of ours (DIR/dist/main.js, e.g. a `git worktree` after
//     `npm ci`): it runs beside ours on both transports, in the same rounds, and a table gives ours / baseline.
// Needs nginx, lighttpd, wrk, taskset, python3 on PATH (bench/run.sh installs them).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
/**
 * The value after `--name`, else `dflt`.
 * @template {string | null} D
 * @param {string} name
 * @param {D} dflt
 * @returns {string | D}
 */
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const value = args[i + 1];
  if (value === undefined) throw new Error(`--${name} needs a value`);
  return value;
};
const DURATION = Number(opt('duration', '5'));
const REPEAT = Number(opt('repeat', '3'));
const ONLY = opt('only', '') === '' ? null : new Set(opt('only', '').split(','));
const OUT = opt('out', '');
const BASELINE = opt('baseline', '');
if (BASELINE !== '' && !fs.existsSync(path.join(BASELINE, 'dist', 'main.js')))
  throw new Error(`--baseline ${BASELINE}: no dist/main.js there (run npm ci in it first)`);
/** The baseline's commit, for the tables. */
const BASE_REV =
  BASELINE === ''
    ? ''
    : spawnSync('git', ['-C', BASELINE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'base';
/** Node flags of `npm start` (`node FLAGS dist/main.js config.conf`): the benchmark runs the same command line. */
const START_FLAGS = (() => {
  const start = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts.start;
  const m = /^node\s+(.*?)\s*dist\/main\.js/.exec(start);
  return m === null ? [] : (m[1] ?? '').split(/\s+/).filter((f) => f !== '');
})();
const NODE_FLAGS =
  opt('node-flags', null) === null
    ? START_FLAGS
    : opt('node-flags', '')
        .split(/\s+/)
        .filter((f) => f !== '');
const NCPU = os.availableParallelism();
const SERVER_CPU = '0';
const CLIENT_CPU = NCPU > 1 ? '1' : '0';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-bench-'));
// nginx's worker runs as www-data: the tree must be readable by others (mkdtemp makes it 0700).
fs.chmodSync(work, 0o755);
const www = path.join(work, 'www');
const cgiDir = path.join(work, 'cgi-bin');
const upDir = path.join(work, 'uploads');
fs.mkdirSync(path.join(www, 'dir'), { recursive: true });
fs.mkdirSync(cgiDir);
fs.mkdirSync(upDir);
fs.writeFileSync(path.join(www, 'index.html'), 'x'.repeat(1024));
fs.writeFileSync(path.join(www, '1m.bin'), Buffer.alloc(1024 * 1024, 97));
fs.writeFileSync(path.join(www, '10m.bin'), Buffer.alloc(10 * 1024 * 1024, 98));
for (let i = 0; i < 100; i++)
  fs.writeFileSync(path.join(www, 'dir', `file-${String(i).padStart(3, '0')}.txt`), `file ${i}\n`);
fs.mkdirSync(path.join(www, 'js'));
fs.writeFileSync(path.join(www, 'js', 'app.js'), jsText(100 * 1024));
// One certificate for every TLS server: ECDSA P-256, for 127.0.0.1 and localhost.
const certFile = path.join(work, 'cert.pem');
const keyFile = path.join(work, 'key.pem');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ],
  { stdio: 'ignore' },
);
fs.chmodSync(keyFile, 0o644); // nginx's worker (www-data) reads it; a throwaway key in a throwaway directory
// Scripts have a directory of their own: `location /` takes uploads, and no upload may land where scripts run.
const phpDir = path.join(work, 'php');
fs.mkdirSync(phpDir);
fs.writeFileSync(path.join(phpDir, 'hello.php'), '<?php echo "Hello, world\\n";\n');
fs.writeFileSync(
  path.join(cgiDir, 'hello.py'),
  '#!/usr/bin/python3\nimport sys\nsys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nHello, world\\n")\n',
  { mode: 0o755 },
);

/**
 * About `size` bytes of JavaScript-like text: repeated identifiers and numbers, compressing as real code does
 * (about 4x with gzip at level 1), not as one repeated byte would.
 * @param {number} size
 */
function jsText(size) {
  let out = '';
  for (let i = 0; out.length < size; i++)
    out += `export function handler${i % 97}(event, context) {\n  const value${i} = compute(${(i * 7919) % 10007}, "${(i * 31).toString(36)}");\n  return value${i} ?? null;\n}\n`;
  return out.slice(0, size);
}

/**
 * @typedef {'ours' | 'oursNode' | 'nginx' | 'lighttpd' | 'node' | 'base' | 'baseNode'} ServerName A server the
 *   benchmark runs ('base', 'baseNode': the --baseline checkout on each transport).
 * @typedef {[string, string[], Record<string, string>?]} Command A server's program, arguments and environment.
 * @typedef {{ ports: Record<ServerName, number>, tlsPorts: Record<ServerName, number>,
 *   commands: Record<ServerName, Command>, wsEcho: number }} Setup
 * @typedef {{ proc: import('node:child_process').ChildProcess, workPid: number | undefined }} Started
 * @typedef {{ name: string, key: string, path: string, headers?: string[], conns?: number, tls?: boolean,
 *   servers: ServerName[] }} Scenario
 * @typedef {{ rps: number[], p99: number[], cpu: number[], peak: number, errors: number }} Figures
 * @typedef {'rps' | 'p99' | 'cpu'} Field
 */

/**
 * @param {number} port
 * @param {number} [ms]
 * @returns {Promise<void>}
 */
function waitPort(port, ms = 10000) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`port ${port} never opened`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** @type {(cmd: string) => string} */
const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const NGINX = which('nginx') || '/usr/sbin/nginx';
const LIGHTTPD = which('lighttpd') || '/usr/sbin/lighttpd';
/** Debian's php-fpm (any version), for the FastCGI row: one pool serves ours and nginx alike. */
const PHP_FPM = (() => {
  for (const dir of ['/usr/sbin', '/usr/bin']) {
    const name = (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
      .filter((n) => /^php-fpm[0-9.]*$/.test(n))
      .sort()
      .pop();
    if (name !== undefined) return path.join(dir, name);
  }
  return '';
})();
const fpmSocket = path.join(work, 'php-fpm.sock');
/** The backend of the proxy row: another nginx, on the client's CPU, serving www for ours and nginx alike. */
const backendPort = await freePort();
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : which('python3');

/** @returns {Promise<Setup>} */
async function setupServers() {
  const ours = await freePort();
  /** @type {Record<ServerName, number>} */
  const ports = {
    ours,
    nginx: await freePort(),
    lighttpd: await freePort(),
    node: await freePort(),
    oursNode: ours,
    base: ours,
    baseNode: ours,
  };
  const oursTls = await freePort();
  const wsEcho = await freePort();
  /** @type {Record<ServerName, number>} */
  const tlsPorts = {
    ours: oursTls,
    oursNode: oursTls,
    nginx: await freePort(),
    lighttpd: 0,
    node: 0,
    base: 0,
    baseNode: 0,
  };
  const plainServer = `server {
  host 127.0.0.1
  port ${ports.ours}
  body_limit 0
  keepalive_timeout 75s
  access_log off
  location / {
    methods GET POST
    root ${www}
    default_file index.html
  }
  location /dir {
    root ${www}/dir
    directory_listing on
  }
  location /cgi-bin {
    root ${cgiDir}
    cgi .py ${PYTHON}
  }
  location /uploads {
    methods GET POST
    root ${upDir}
  }
`;
  // The gateways, for ours alone: the baseline may predate them.
  const gateways = `  location ~ \\.php$ {
    root ${phpDir}
    fastcgi_pass unix:${fpmSocket}
    fastcgi_keep_conn on
  }
  location /proxy/ {
    proxy_pass http://backend/
  }
`;
  // The baseline (another commit) reads the plain server alone: it may predate TLS and compression.
  const baseConf = path.join(work, 'base.conf');
  fs.writeFileSync(baseConf, `${plainServer}}\n`);
  const upstreamBlock = `upstream backend {\n  server 127.0.0.1:${backendPort}\n  keepalive 32\n}\n`;
  const oursConf = path.join(work, 'ours.conf');
  fs.writeFileSync(
    oursConf,
    `${upstreamBlock}${plainServer}${gateways}  location /js {
    root ${www}/js
    gzip on
    brotli on
  }
  location /ws/ {
    proxy_pass http://127.0.0.1:${wsEcho}
  }
}
server {
  listen 127.0.0.1:${tlsPorts.ours} ssl
  ssl_certificate ${certFile}
  ssl_certificate_key ${keyFile}
  keepalive_timeout 75s
  access_log off
  location / {
    root ${www}
    default_file index.html
  }
}
`,
  );
  const nginxConf = path.join(work, 'nginx.conf');
  fs.writeFileSync(
    nginxConf,
    `worker_processes 1;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log;
worker_rlimit_nofile 30000;
events { worker_connections 20000; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  client_body_temp_path ${work}/nginx-body;
  proxy_temp_path ${work}/nginx-proxy;
  fastcgi_temp_path ${work}/nginx-fastcgi;
  uwsgi_temp_path ${work}/nginx-uwsgi;
  scgi_temp_path ${work}/nginx-scgi;
  server {
    listen 127.0.0.1:${ports.nginx};
    root ${www};
    index index.html;
    location /dir/ { autoindex on; }
    location /js/ { gzip on; gzip_types application/javascript; }
    location /proxy/ {
      proxy_pass http://backend/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $proxy_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
    location ~ \\.php$ {
      root ${phpDir};
      fastcgi_pass php;
      fastcgi_keep_conn on;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    }
    location /ws/ {
      proxy_pass http://127.0.0.1:${wsEcho};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 75s;
    }
  }
  upstream php { server unix:${fpmSocket}; keepalive 4; }
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${tlsPorts.nginx} ssl;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    ssl_session_cache off;
    ssl_session_tickets off;
    root ${www};
    index index.html;
  }
}
`,
  );
  const lighttpdConf = path.join(work, 'lighttpd.conf');
  fs.writeFileSync(
    lighttpdConf,
    `server.document-root = "${www}"
server.port = ${ports.lighttpd}
server.bind = "127.0.0.1"
server.modules = ( "mod_cgi", "mod_dirlisting", "mod_alias" )
server.max-fds = 30000
server.max-connections = 20000
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 75
server.errorlog = "${work}/lighttpd-error.log"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain", ".bin" => "application/octet-stream" )
$HTTP["url"] =~ "^/dir/" { dir-listing.activate = "enable" }
alias.url = ( "/cgi-bin/" => "${cgiDir}/" )
$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( ".py" => "${PYTHON}" ) }
`,
  );
  return {
    ports,
    tlsPorts,
    wsEcho,
    commands: {
      // The same command line as `npm start` (unless --node-flags says otherwise).
      ours: [
        process.execPath,
        [...NODE_FLAGS, path.join(REPO, 'dist/main.js'), oursConf],
        { LOCALHOST_TRANSPORT: 'native' },
      ],
      oursNode: [
        process.execPath,
        [...NODE_FLAGS, path.join(REPO, 'dist/main.js'), oursConf],
        { LOCALHOST_TRANSPORT: 'node' },
      ],
      node: [
        process.execPath,
        [
          ...NODE_FLAGS,
          path.join(REPO, 'bench/node-floor.mjs'),
          String(ports.node),
          PYTHON,
          path.join(cgiDir, 'hello.py'),
        ],
      ],
      base: [
        process.execPath,
        [...NODE_FLAGS, path.join(BASELINE, 'dist/main.js'), baseConf],
        { LOCALHOST_TRANSPORT: 'native' },
      ],
      baseNode: [
        process.execPath,
        [...NODE_FLAGS, path.join(BASELINE, 'dist/main.js'), baseConf],
        { LOCALHOST_TRANSPORT: 'node' },
      ],
      nginx: [NGINX, ['-c', nginxConf, '-e', `${work}/nginx-error.log`]],
      lighttpd: [LIGHTTPD, ['-D', '-f', lighttpdConf]],
    },
  };
}

/**
 * Starts a server pinned to SERVER_CPU; returns its process and the pid that does the work (nginx's worker).
 * @param {ServerName} name
 * @param {Setup} setup
 * @returns {Promise<Started>}
 */
async function start(name, setup) {
  const [cmd, argv, env = {}] = setup.commands[name];
  const proc = spawn('taskset', ['-c', SERVER_CPU, cmd, ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  try {
    await waitPort(setup.ports[name]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${name} did not start: ${err}`);
  }
  let workPid = proc.pid;
  if (name === 'nginx') {
    // The worker process is the child of the master.
    for (let i = 0; i < 50; i++) {
      const kids = spawnSync('pgrep', ['-P', String(proc.pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
      if (kids.length > 0) {
        workPid = Number(kids[0]);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { proc, workPid };
}

/**
 * @param {Started} server
 * @returns {Promise<void>}
 */
function stop(server) {
  return new Promise((resolve) => {
    if (server.proc.exitCode !== null) return resolve();
    server.proc.once('exit', () => resolve());
    server.proc.kill('SIGTERM');
    setTimeout(() => server.proc.kill('SIGKILL'), 3000);
  });
}

/**
 * @param {number | undefined} pid
 * @param {string} [field]
 * @returns {number}
 */
function rssKiB(pid, field = 'VmRSS') {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** utime + stime of `pid` so far, in microseconds (/proc/PID/stat fields 14 and 15, in clock ticks). */
const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
/**
 * @param {number | undefined} pid
 * @returns {number}
 */
function cpuMicros(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return NaN;
  }
}

/** @param {string} out */
function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const p99m = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = p99m ? Number(p99m[1]) * (p99m[2] === 'us' ? 0.001 : p99m[2] === 's' ? 1000 : 1) : NaN;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  const sock = /Socket errors: (.*)/.exec(out)?.[1];
  return { rps, requests, p99, non2xx: Number(errors ?? 0), socketErrors: sock ?? '' };
}

/**
 * @param {string} url
 * @param {{ conns?: number, duration?: number, headers?: string[], script?: string | null }} [options]
 */
function wrk(url, { conns = 50, duration = DURATION, headers = [], script = null } = {}) {
  const argv = ['-c', CLIENT_CPU, 'wrk', '-t1', `-c${conns}`, `-d${duration}s`, '--latency'];
  for (const h of headers) argv.push('-H', h);
  if (script) argv.push('-s', script);
  argv.push(url);
  const r = spawnSync('taskset', argv, { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  return parseWrk(r.stdout ?? '');
}

/**
 * The compression rows measure nothing unless the answer is encoded: br from ours where asked, gzip otherwise.
 * @param {Scenario} sc
 * @param {ServerName} name
 * @param {string} url
 */
function checkEncoding(sc, name, url) {
  if (sc.key !== 'gzip' && sc.key !== 'br') return;
  const argv = ['-sk', '-o', '/dev/null', '-D', '-', ...(sc.headers ?? []).flatMap((h) => ['-H', h]), url];
  const head = spawnSync('curl', argv, { encoding: 'utf8' }).stdout.toLowerCase();
  const want = sc.key === 'br' && name !== 'nginx' ? 'br' : 'gzip';
  if (!head.includes(`content-encoding: ${want}`))
    throw new Error(`${name} ${sc.key}: expected Content-Encoding ${want}, got:\n${head}`);
}

/** @type {(xs: number[]) => number} */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};

/**
 * Opens `n` idle keep-alive connections (one request each so every server has parsed something), returns closer.
 * `secure`: over TLS (the certificate is not checked: it is the bench's own).
 * @param {number} port
 * @param {number} n
 * @param {boolean} [secure]
 */
async function openIdle(port, n, secure = false) {
  /** @type {net.Socket[]} */
  const socks = [];
  let answered = 0;
  /** @type {Promise<void>} */
  const allAnswered = new Promise((resolve) => {
    let opened = 0;
    const next = () => {
      const batch = Math.min(200, n - opened);
      if (batch <= 0) return;
      for (let i = 0; i < batch; i++) {
        opened++;
        const request = () => s.write('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
        const s = secure
          ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, request)
          : net.connect({ port, host: '127.0.0.1' }, request);
        let sAnswered = false;
        s.on('data', () => {
          if (!sAnswered) {
            sAnswered = true;
            if (++answered === n) resolve();
          }
        });
        s.on('error', () => {
          if (!sAnswered) {
            sAnswered = true;
            if (++answered === n) resolve();
          }
        });
        socks.push(s);
      }
      setTimeout(next, 20);
    };
    next();
    setTimeout(resolve, 30000);
  });
  await allAnswered;
  return () => socks.forEach((s) => s.destroy());
}

/** @type {ServerName[]} */
const BASE_NAMES = ['base', 'baseNode'];

/** @type {Scenario[]} */
const scenarios = [
  {
    name: '1 KiB keep-alive',
    key: 'small',
    path: '/index.html',
    servers: ['ours', 'oursNode', 'nginx', 'lighttpd', 'node'],
  },
  {
    name: '1 KiB Connection: close',
    key: 'close',
    path: '/index.html',
    headers: ['Connection: close'],
    servers: ['ours', 'oursNode', 'nginx', 'lighttpd', 'node'],
  },
  { name: '404 page', key: '404', path: '/no-such-file', servers: ['ours', 'oursNode', 'nginx', 'lighttpd'] },
  {
    name: 'directory listing (100 files)',
    key: 'listing',
    path: '/dir/',
    servers: ['ours', 'oursNode', 'nginx', 'lighttpd'],
  },
  { name: '1 MiB file', key: '1m', path: '/1m.bin', conns: 10, servers: ['ours', 'oursNode', 'nginx', 'lighttpd'] },
  { name: '10 MiB file', key: '10m', path: '/10m.bin', conns: 10, servers: ['ours', 'oursNode', 'nginx', 'lighttpd'] },
  {
    name: '100 KiB JS, gzip',
    key: 'gzip',
    path: '/js/app.js',
    headers: ['Accept-Encoding: gzip'],
    servers: ['ours', 'oursNode', 'nginx'],
  },
  {
    name: '100 KiB JS, br (nginx: gzip)',
    key: 'br',
    path: '/js/app.js',
    headers: ['Accept-Encoding: br, gzip'],
    servers: ['ours', 'oursNode', 'nginx'],
  },
  {
    name: 'HTTPS 1 KiB keep-alive',
    key: 'tls',
    path: '/index.html',
    tls: true,
    servers: ['ours', 'oursNode', 'nginx'],
  },
  {
    name: 'HTTPS new connections',
    key: 'tlsnew',
    path: '/index.html',
    headers: ['Connection: close'],
    tls: true,
    servers: ['ours', 'oursNode', 'nginx'],
  },
  {
    name: 'proxied 1 KiB keep-alive',
    key: 'proxy',
    path: '/proxy/index.html',
    servers: ['ours', 'oursNode', 'nginx'],
  },
  {
    name: 'PHP hello (php-fpm)',
    key: 'fpm',
    path: '/hello.php',
    conns: 10,
    servers: ['ours', 'oursNode', 'nginx'],
  },
  {
    name: 'Python CGI hello',
    key: 'cgi',
    path: '/cgi-bin/hello.py',
    conns: 10,
    servers: ['ours', 'oursNode', 'lighttpd', 'node'],
  },
];

// With --baseline, it runs wherever ours does.
if (BASELINE !== '')
  for (const sc of scenarios)
    if (sc.servers.includes('ours') && !['gzip', 'br', 'tls', 'tlsnew', 'fpm', 'proxy'].includes(sc.key))
      sc.servers.push(...BASE_NAMES);

/**
 * One php-fpm pool for the FastCGI row, shared by ours and nginx: static, 6 children (more than the 4 idle
 * connections either keeps), run as root with -R (the bench runs as root), its socket open to nginx's www-data.
 * @returns {import('node:child_process').ChildProcess | null}
 */
function startPhpFpm() {
  if (PHP_FPM === '' || (ONLY !== null && !ONLY.has('fpm'))) return null;
  const conf = path.join(work, 'php-fpm.conf');
  const root = process.getuid?.() === 0;
  fs.writeFileSync(
    conf,
    `[global]\nerror_log = ${work}/php-fpm.log\ndaemonize = no\n[bench]\n` +
      (root ? 'user = root\ngroup = root\n' : '') +
      `listen = ${fpmSocket}\nlisten.mode = 0666\npm = static\npm.max_children = 6\n`,
  );
  return spawn('taskset', ['-c', CLIENT_CPU, PHP_FPM, '-n', '-y', conf, ...(root ? ['-R'] : [])], {
    stdio: 'ignore',
  });
}

/**
 * The proxy row's backend: nginx with one worker on the client's CPU, logging off, serving www.
 * @returns {import('node:child_process').ChildProcess | null}
 */
function startBackend() {
  if (ONLY !== null && !ONLY.has('proxy')) return null;
  const conf = path.join(work, 'backend.conf');
  fs.writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\npid ${work}/backend.pid;\nerror_log ${work}/backend-error.log;\n` +
      `events { worker_connections 4096; }\nhttp { access_log off; keepalive_requests 1000000;\n` +
      `  client_body_temp_path ${work}/backend-body; proxy_temp_path ${work}/backend-proxy;\n` +
      `  fastcgi_temp_path ${work}/backend-fastcgi; uwsgi_temp_path ${work}/backend-uwsgi;\n` +
      `  scgi_temp_path ${work}/backend-scgi;\n` +
      `  server { listen 127.0.0.1:${backendPort}; root ${www}; } }\n`,
  );
  return spawn('taskset', ['-c', CLIENT_CPU, NGINX, '-c', conf, '-e', `${work}/backend-error.log`], {
    stdio: 'ignore',
  });
}

async function main() {
  const setup = await setupServers();
  const fpm = startPhpFpm();
  const backend = startBackend();
  if (backend !== null) await waitPort(backendPort);
  for (let i = 0; fpm !== null && i < 100 && !fs.existsSync(fpmSocket); i++)
    await new Promise((r) => setTimeout(r, 50));
  if (fpm === null) for (const sc of scenarios) if (sc.key === 'fpm') sc.servers.length = 0;
  /** @type {Map<string, Map<ServerName, Figures>>} */
  const results = new Map(); // key → server → {rps[], p99[], peak}
  const selected = scenarios.filter((s) => ONLY === null || ONLY.has(s.key));
  for (const sc of selected) results.set(sc.key, new Map());
  /** @type {ServerName[]} */
  const names = ['ours', 'oursNode', 'nginx', 'lighttpd', 'node', ...(BASELINE !== '' ? BASE_NAMES : [])];
  for (let rep = 0; rep < REPEAT; rep++) {
    // Interleave: each repetition runs every server on every scenario, in a rotated server order.
    const order = names.slice(rep % names.length).concat(names.slice(0, rep % names.length));
    for (const name of order) {
      if (!selected.some((sc) => sc.servers.includes(name))) continue;
      const srv = await start(name, setup);
      try {
        for (const sc of selected) {
          if (!sc.servers.includes(name)) continue;
          const url =
            sc.tls === true
              ? `https://127.0.0.1:${setup.tlsPorts[name]}${sc.path}`
              : `http://127.0.0.1:${setup.ports[name]}${sc.path}`;
          checkEncoding(sc, name, url);
          wrk(url, { conns: sc.conns ?? 50, duration: 1, headers: sc.headers ?? [] }); // warm-up
          const cpu0 = cpuMicros(srv.workPid);
          const r = wrk(url, { conns: sc.conns ?? 50, headers: sc.headers ?? [] });
          const cpuPerReq = (cpuMicros(srv.workPid) - cpu0) / r.requests;
          const m = results.get(sc.key);
          if (m === undefined) throw new Error(`no results for scenario ${sc.key}`);
          let e = m.get(name);
          if (e === undefined) {
            e = { rps: [], p99: [], cpu: [], peak: 0, errors: 0 };
            m.set(name, e);
          }
          e.rps.push(r.rps);
          e.p99.push(r.p99);
          e.cpu.push(cpuPerReq);
          e.errors += r.non2xx > 0 && sc.key !== '404' ? r.non2xx : 0;
          e.peak = Math.max(e.peak, rssKiB(srv.workPid, 'VmHWM'));
          process.stderr.write(
            `rep ${rep + 1} ${name.padEnd(8)} ${sc.name.padEnd(30)} ${r.rps.toFixed(0).padStart(8)} req/s  ${cpuPerReq.toFixed(1).padStart(7)} µs CPU/req  p99 ${r.p99.toFixed(2)} ms${r.socketErrors ? '  socket errors: ' + r.socketErrors : ''}\n`,
          );
        }
      } finally {
        await stop(srv);
      }
    }
  }

  // Upload throughput (ours alone, each transport): 10 MiB bodies posted with curl, MiB/s over several uploads.
  /** @type {Map<ServerName, { mibs: number, cpu: number }>} */
  const uploads = new Map();
  if (ONLY === null || ONLY.has('upload')) {
    const body = path.join(work, 'upload.bin');
    fs.writeFileSync(body, Buffer.alloc(10 * 1024 * 1024, 99));
    for (const name of /** @type {const} */ (['ours', 'oursNode'])) {
      const srv = await start(name, setup);
      try {
        const n = 10;
        const cpu0 = cpuMicros(srv.workPid);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          execFileSync('taskset', [
            '-c',
            CLIENT_CPU,
            'curl',
            '-sf',
            '-o',
            '/dev/null',
            '--data-binary',
            `@${body}`,
            '-H',
            'Content-Type: application/octet-stream',
            `http://127.0.0.1:${setup.ports[name]}/uploads/${name}-${i}.bin`,
          ]);
        }
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const u = { mibs: (n * 10) / secs, cpu: (cpuMicros(srv.workPid) - cpu0) / n };
        uploads.set(name, u);
        process.stderr.write(`upload ${name}: ${u.mibs.toFixed(1)} MiB/s, ${u.cpu.toFixed(0)} µs CPU per upload\n`);
      } finally {
        await stop(srv);
      }
    }
  }

  // WebSocket echo through each proxy (issue 18): messages/s and server CPU per message; 'direct' is no proxy.
  /** @type {Map<ServerName | 'direct', { rate: number, cpu: number, failed: number }>} */
  const ws = new Map();
  if (ONLY === null || ONLY.has('ws')) {
    const echoScript = path.join(REPO, 'bench/ws-echo.mjs');
    const echo = spawn('taskset', ['-c', CLIENT_CPU, process.execPath, echoScript, 'server', String(setup.wsEcho)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    /** @type {(port: number, seconds: number) => { messages: number, failed: number }} */
    const load = (port, seconds) => {
      const argv = ['-c', CLIENT_CPU, process.execPath, echoScript, 'client', String(port), '/ws/', '50'];
      const r = spawnSync('taskset', [...argv, String(seconds), '64'], {
        encoding: 'utf8',
        timeout: (seconds + 30) * 1000,
      });
      const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
      try {
        const j = JSON.parse(line);
        return { messages: Number(j.messages), failed: Number(j.failed) };
      } catch {
        throw new Error(`ws client: ${line} ${r.stderr ?? ''}`);
      }
    };
    try {
      await waitPort(setup.wsEcho);
      for (const name of /** @type {const} */ (['ours', 'oursNode', 'nginx', 'direct'])) {
        const srv = name === 'direct' ? null : await start(name, setup);
        try {
          const port = name === 'direct' ? setup.wsEcho : setup.ports[name];
          load(port, 1); // warm-up
          const cpu0 = srv === null ? NaN : cpuMicros(srv.workPid);
          const r = load(port, DURATION);
          const cpu = srv === null ? NaN : (cpuMicros(srv.workPid) - cpu0) / r.messages;
          const rate = r.messages / DURATION;
          ws.set(name, { rate, cpu, failed: r.failed });
          process.stderr.write(
            `ws ${name.padEnd(8)} ${rate.toFixed(0).padStart(8)} messages/s  ${Number.isFinite(cpu) ? cpu.toFixed(1) : '–'} µs CPU/message${r.failed > 0 ? `  ${r.failed} connections failed` : ''}\n`,
          );
        } finally {
          if (srv !== null) await stop(srv);
        }
      }
    } finally {
      echo.kill('SIGTERM');
    }
  }

  // Sessions in memory and in Redis (issue 21), ours (native) alone: a static file in a `session on` location read
  // with a session cookie (one GETEX per request on Redis), and the CGI session demo (GETEX and SET per request).
  /** @type {Map<'memory' | 'redis', { staticRps: number, staticCpu: number, demoRps: number, demoCpu: number }>} */
  const sessions = new Map();
  const REDIS = which('redis-server');
  if ((ONLY === null || ONLY.has('sessions')) && REDIS !== '') {
    const redisPort = await freePort();
    const redis = spawn(
      'taskset',
      ['-c', CLIENT_CPU, REDIS, '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--dir', work],
      { stdio: 'ignore' },
    );
    fs.copyFileSync(path.join(REPO, 'cgi-bin', 'session.py'), path.join(cgiDir, 'session.py'));
    try {
      await waitPort(redisPort);
      for (const store of /** @type {const} */ (['memory', 'redis'])) {
        const port = await freePort();
        const conf = path.join(work, `sessions-${store}.conf`);
        fs.writeFileSync(
          conf,
          `server {\n  listen 127.0.0.1:${port}\n` +
            (store === 'redis' ? `  session_store redis://127.0.0.1:${redisPort}\n` : '') +
            `  location /s/ {\n    alias ${www}/\n    session on\n  }\n` +
            `  location /cgi-bin {\n    root ${cgiDir}\n    cgi .py ${PYTHON}\n    session on\n  }\n}\n`,
        );
        const proc = spawn(
          'taskset',
          ['-c', SERVER_CPU, process.execPath, ...NODE_FLAGS, path.join(REPO, 'dist/main.js'), conf],
          { stdio: 'ignore', env: { ...process.env, LOCALHOST_TRANSPORT: 'native' } },
        );
        try {
          await waitPort(port);
          const head = execFileSync(
            'curl',
            ['-s', '-D', '-', '-o', '/dev/null', `http://127.0.0.1:${port}/cgi-bin/session.py`],
            {
              encoding: 'utf8',
            },
          );
          const sid = /^set-cookie: sid=([A-Za-z0-9_-]+)/im.exec(head)?.[1];
          if (sid === undefined) throw new Error(`sessions ${store}: no session cookie in ${head}`);
          const headers = [`Cookie: sid=${sid}`];
          /** @type {(url: string, conns: number) => { rps: number, cpu: number }} */
          const measure = (url, conns) => {
            wrk(url, { conns, duration: 1, headers }); // warm-up
            const cpu0 = cpuMicros(proc.pid);
            const r = wrk(url, { conns, headers });
            if (r.non2xx > 0) throw new Error(`sessions ${store}: ${r.non2xx} answers not 2xx from ${url}`);
            return { rps: r.rps, cpu: (cpuMicros(proc.pid) - cpu0) / r.requests };
          };
          const st = measure(`http://127.0.0.1:${port}/s/index.html`, 50);
          const demo = measure(`http://127.0.0.1:${port}/cgi-bin/session.py`, 10);
          sessions.set(store, { staticRps: st.rps, staticCpu: st.cpu, demoRps: demo.rps, demoCpu: demo.cpu });
          process.stderr.write(
            `sessions ${store.padEnd(6)} static ${st.rps.toFixed(0)} req/s ${st.cpu.toFixed(1)} µs CPU/req; demo ${demo.rps.toFixed(0)} req/s ${demo.cpu.toFixed(0)} µs CPU/req\n`,
          );
        } finally {
          await stop({ proc, workPid: proc.pid });
        }
      }
    } finally {
      redis.kill('SIGTERM');
    }
  }

  // 10,000 idle keep-alive connections: RSS growth of each server with them open.
  /** @type {Map<ServerName, { before: number, rss: number }>} */
  const idle = new Map();
  if (ONLY === null || ONLY.has('idle')) {
    for (const name of /** @type {const} */ (['ours', 'oursNode', 'nginx', 'lighttpd'])) {
      const srv = await start(name, setup);
      try {
        const before = rssKiB(srv.workPid);
        const close = await openIdle(setup.ports[name], 10000);
        await new Promise((r) => setTimeout(r, 500));
        const rss = rssKiB(srv.workPid);
        idle.set(name, { before, rss });
        process.stderr.write(
          `idle 10k: ${name} ${(rss / 1024).toFixed(1)} MiB (before ${(before / 1024).toFixed(1)} MiB)\n`,
        );
        close();
      } finally {
        await stop(srv);
      }
    }
  }

  // 1,000 idle TLS connections: RSS growth (issue 16).
  /** @type {Map<ServerName, { before: number, rss: number }>} */
  const idleTls = new Map();
  if (ONLY === null || ONLY.has('tlsidle')) {
    for (const name of /** @type {const} */ (['ours', 'oursNode', 'nginx'])) {
      const srv = await start(name, setup);
      try {
        const before = rssKiB(srv.workPid);
        const close = await openIdle(setup.tlsPorts[name], 1000, true);
        await new Promise((r) => setTimeout(r, 500));
        const rss = rssKiB(srv.workPid);
        idleTls.set(name, { before, rss });
        process.stderr.write(
          `idle TLS 1k: ${name} ${(rss / 1024).toFixed(1)} MiB (before ${(before / 1024).toFixed(1)} MiB)\n`,
        );
        close();
      } finally {
        await stop(srv);
      }
    }
  }

  /** @type {(x: number, d?: number) => string} */
  const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  /** @type {[ServerName, string][]} */
  const cols = [
    ['ours', 'ours (native)'],
    ['oursNode', 'ours (node)'],
    ['nginx', 'nginx'],
    ['lighttpd', 'lighttpd'],
    ['node', 'bare Node'],
    ...(BASELINE !== ''
      ? /** @type {[ServerName, string][]} */ ([
          ['base', `${BASE_REV} (native)`],
          ['baseNode', `${BASE_REV} (node)`],
        ])
      : []),
  ];
  /** @type {(sc: Scenario, n: ServerName, field: Field) => number} */
  const stat = (sc, n, field) => {
    const e = results.get(sc.key)?.get(n);
    return e ? median(e[field]) : NaN;
  };
  /** @type {string[]} */
  const lines = [];
  lines.push(
    `Benchmark: ${REPEAT} interleaved runs of ${DURATION} s each (median), server on CPU ${SERVER_CPU}, wrk -t1 on CPU ${CLIENT_CPU}; ${os.cpus()[0]?.model ?? ''}, Node ${process.version}` +
      `${NODE_FLAGS.length > 0 ? ' ' + NODE_FLAGS.join(' ') : ''}. "bare Node": bench/node-floor.mjs.`,
  );
  /** @type {(title: string, field: Field, digits: number, unit: string) => void} */
  const table = (title, field, digits, unit) => {
    lines.push('', `**${title}**`, '');
    lines.push(`| scenario | ${cols.map(([, label]) => label).join(' | ')} |`);
    lines.push(`| --- |${cols.map(() => ' ---: |').join('')}`);
    for (const sc of selected) {
      const cells = cols.map(([n]) => {
        const v = stat(sc, n, field);
        return Number.isFinite(v) ? `${fmt(v, digits)}${unit}` : '–';
      });
      lines.push(`| ${sc.name} | ${cells.join(' | ')} |`);
    }
  };
  table('Requests per second', 'rps', 0, '');
  table('Server CPU per request (µs, utime+stime from /proc)', 'cpu', 1, '');
  table('p99 latency (ms)', 'p99', 2, '');
  lines.push('', '**Ratios (ours native against the others; CPU: theirs / ours, above 1 means ours uses less)**', '');
  lines.push(
    '| scenario | req/s vs nginx | req/s vs lighttpd | req/s vs ours (node) | CPU vs nginx | CPU vs lighttpd | CPU vs ours (node) | p99 / nginx p99 |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const sc of selected) {
    /** @type {(n: ServerName) => number} */
    const r = (n) => stat(sc, n, 'rps');
    /** @type {(n: ServerName) => number} */
    const c = (n) => stat(sc, n, 'cpu');
    /** @type {(n: ServerName) => number} */
    const p = (n) => stat(sc, n, 'p99');
    lines.push(
      `| ${sc.name} | ${fmt(r('ours') / r('nginx'), 2)} | ${fmt(r('ours') / r('lighttpd'), 2)} | ${fmt(r('ours') / r('oursNode'), 2)} | ${fmt(c('nginx') / c('ours'), 2)} | ${fmt(c('lighttpd') / c('ours'), 2)} | ${fmt(c('oursNode') / c('ours'), 2)} | ${fmt(p('ours') / p('nginx'), 2)} |`,
    );
  }
  if (BASELINE !== '') {
    lines.push(
      '',
      `**Against the baseline ${BASE_REV} (req/s: ours / baseline; CPU: baseline / ours, above 1 means ours uses less)**`,
      '',
    );
    lines.push('| scenario | req/s (native) | CPU (native) | req/s (node) | CPU (node) |');
    lines.push('| --- | ---: | ---: | ---: | ---: |');
    for (const sc of selected) {
      /** @type {(a: ServerName, b: ServerName, field: Field) => string} */
      const ratio = (a, b, field) => fmt(stat(sc, a, field) / stat(sc, b, field), 2);
      lines.push(
        `| ${sc.name} | ${ratio('ours', 'base', 'rps')} | ${ratio('base', 'ours', 'cpu')} | ${ratio('oursNode', 'baseNode', 'rps')} | ${ratio('baseNode', 'oursNode', 'cpu')} |`,
      );
    }
  }
  const peaks = selected.flatMap((sc) =>
    cols.map(([n]) => /** @type {[ServerName, number]} */ ([n, results.get(sc.key)?.get(n)?.peak ?? 0])),
  );
  /** @type {(n: ServerName) => number} */
  const peak = (n) => Math.max(0, ...peaks.filter(([m]) => m === n).map(([, v]) => v));
  lines.push(
    '',
    `Peak RSS over the runs: ${cols
      .filter(([n]) => peak(n) > 0)
      .map(([n, label]) => `${label} ${fmt(peak(n) / 1024, 1)} MiB`)
      .join(', ')}.`,
  );
  if (uploads.size > 0)
    lines.push(
      '',
      `10 MiB uploads (curl, 10 in a row): ${[...uploads]
        .map(
          ([n, u]) =>
            `${cols.find(([m]) => m === n)?.[1]} ${fmt(u.mibs, 1)} MiB/s, ${fmt(u.cpu / 1000, 1)} ms CPU each`,
        )
        .join('; ')}.`,
    );
  if (ws.size > 0) {
    /** @type {(n: ServerName | 'direct') => string} */
    const label = (n) => (n === 'direct' ? 'no proxy (the backend directly)' : (cols.find(([m]) => m === n)?.[1] ?? n));
    lines.push(
      '',
      `WebSocket echo through the proxy (50 connections, ping-pong of 64-byte messages): ${[...ws]
        .map(
          ([n, v]) =>
            `${label(n)} ${fmt(v.rate)} messages/s${Number.isFinite(v.cpu) ? `, ${fmt(v.cpu, 1)} µs server CPU per message` : ''}${v.failed > 0 ? ` (${v.failed} connections failed)` : ''}`,
        )
        .join('; ')}.`,
    );
  }
  const memory = sessions.get('memory');
  const inRedis = sessions.get('redis');
  if (memory !== undefined && inRedis !== undefined)
    lines.push(
      '',
      `Sessions, ours (native), store in memory against Redis (same CPU as the client): a static file in a ` +
        `\`session on\` location with a session cookie ${fmt(memory.staticRps)} against ${fmt(inRedis.staticRps)} req/s ` +
        `(${fmt(memory.staticCpu, 1)} against ${fmt(inRedis.staticCpu, 1)} µs server CPU per request); the CGI session ` +
        `demo ${fmt(memory.demoRps)} against ${fmt(inRedis.demoRps)} req/s.`,
    );
  if (idle.size > 0)
    lines.push(
      '',
      `10,000 idle keep-alive connections, RSS growth: ${[...idle]
        .map(
          ([n, v]) =>
            `${cols.find(([m]) => m === n)?.[1]} +${fmt((v.rss - v.before) / 1024, 1)} MiB (to ${fmt(v.rss / 1024, 1)})`,
        )
        .join(', ')}.`,
    );
  if (idleTls.size > 0)
    lines.push(
      '',
      `1,000 idle TLS connections, RSS growth: ${[...idleTls]
        .map(
          ([n, v]) =>
            `${cols.find(([m]) => m === n)?.[1]} +${fmt((v.rss - v.before) / 1024, 1)} MiB (to ${fmt(v.rss / 1024, 1)})`,
        )
        .join(', ')}.`,
    );
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (OUT !== '') fs.writeFileSync(OUT, text);
  fpm?.kill('SIGQUIT');
  backend?.kill('SIGQUIT');
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
