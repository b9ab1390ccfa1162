/**
 * Runs the repository's example site (config.conf, www/, www-alt/, cgi-bin/) on free ports for browser tests: the
 * config is copied into a temp dir with its ports replaced, its paths made absolute, and uploads kept in the temp dir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { REPO, startServer, type RunningServer } from './server.js';

/** The ports config.conf uses; links in www/ name them, so URLs are mapped onto the free ports. */
export const EXAMPLE_PORTS = [8080, 8081] as const;

export interface ExampleSite {
  readonly server: RunningServer;
  /** `http://localhost:PORT` of the first port. */
  readonly base: string;
  /** Where uploads land (a temp dir, not the repository's uploads/). */
  readonly uploads: string;
  /** A URL of the site as written in its pages (port 8080/8081) → the URL of the running copy. */
  mapUrl(url: string): string;
}

/** Quotes a config value that holds whitespace (DESIGN §3). */
const value = (p: string): string => (/\s/.test(p) ? `"${p}"` : p);

/**
 * config.conf rewritten for a test run: {PORT}/{PORT2} for 8080/8081, absolute paths (under `site`, the
 * repository by default), a shorter `cgi_timeout`.
 */
export function exampleConfig(cgiTimeout = '3s', site = REPO): string {
  const text = fs.readFileSync(path.join(REPO, 'config.conf'), 'utf8');
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*port\s/.test(line)) return line.replace(/\b8080\b/g, '{PORT}').replace(/\b8081\b/g, '{PORT2}');
      if (/^\s*cgi_timeout\s/.test(line)) return line.replace(/cgi_timeout\s+\S+/, `cgi_timeout ${cgiTimeout}`);
      // ./www also covers ./www-alt and ./www/errors/...; uploads go to the temp dir.
      return line
        .replace(/(\s)\.\/uploads\b/g, '$1{DIR}/uploads')
        .replace(
          /(\s)\.\/(www|www-alt|cgi-bin)\b(\S*)/g,
          (_m, sp: string, dir: string, rest: string) => `${sp}${value(path.join(site, dir) + rest)}`,
        );
    })
    .join('\n');
}

/** A private copy of the example site's directories (www, www-alt, cgi-bin), for tests that try to write into
 *  them: whatever happens, the repository is untouched. The caller removes it. */
export function copyExampleSite(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-site-'));
  for (const d of ['www', 'www-alt', 'cgi-bin']) fs.cpSync(path.join(REPO, d), path.join(dir, d), { recursive: true });
  return dir;
}

/**
 * Starts the example site; `cgiTimeout` replaces config.conf's so that sleep.py's 504 comes quickly. `site` is
 * where www/, www-alt/ and cgi-bin/ are taken from (the repository by default; see copyExampleSite).
 */
export async function startExampleSite(cgiTimeout = '3s', site = REPO): Promise<ExampleSite> {
  const server = await startServer({ config: exampleConfig(cgiTimeout, site), files: { 'uploads/.gitkeep': '' } });
  const [p1, p2] = server.ports;
  const mapUrl = (url: string): string => {
    const u = new URL(url);
    if (u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname.endsWith('.localhost')) {
      if (u.port === String(EXAMPLE_PORTS[0])) u.port = String(p1);
      else if (u.port === String(EXAMPLE_PORTS[1])) u.port = String(p2);
    }
    return u.href;
  };
  return { server, base: `http://localhost:${p1}`, uploads: path.join(server.dir, 'uploads'), mapUrl };
}
