/**
 * The command line's grammar (docs/ARCHITECTURE.md "Command line"): nginx's flags (-t -T -c -s -g -V), the
 * zero-config flags that serve a folder, and ours. Pure: the one question about the file system (is this
 * positional a directory?) is asked through a callback, so every rule is unit-tested.
 */
import { err, ok, type Result } from '../lib/result.js';

/** What `-s` sends to the running instance (nginx's names). */
export type SignalName = 'stop' | 'quit' | 'reload' | 'reopen';

/** The flags of the one-command folder server. */
export interface ZeroConfigFlags {
  /** The directory to serve (default the working directory). */
  readonly dir: string;
  readonly port: number | null;
  readonly address: string | null;
  readonly spa: boolean;
  readonly listing: boolean;
  readonly upload: boolean;
  /** `--cgi .EXT=INTERPRETER`, in order. */
  readonly cgi: readonly (readonly [string, string])[];
}

/** A command that needs a configuration: run it, test it (-t), print it (-T), or signal its instance (-s). */
export interface RunCommand {
  readonly kind: 'run' | 'test' | 'dump' | 'signal';
  readonly signal: SignalName | null;
  /** A configuration file (`-c FILE`, a positional file, or ./config.conf); null in zero-config mode. */
  readonly configFile: string | null;
  /** Zero-config mode's flags; null when a file is the configuration. */
  readonly zero: ZeroConfigFlags | null;
  readonly strict: boolean;
  /** `-g 'directives;'`. */
  readonly globals: string | null;
}

/** What the command line asks for. */
export type Command = { readonly kind: 'help' | 'version' | 'build-info' | 'directives' } | RunCommand;

/** Where the answers about the file system come from. */
export interface ArgsEnv {
  /** True when `p` (as given, relative to the working directory) is a directory. */
  readonly isDirectory: (p: string) => boolean;
  /** True when ./config.conf exists (then no argument at all means it, as before zero-config). */
  readonly hasDefaultConfig: boolean;
}

const SIGNALS: readonly SignalName[] = ['stop', 'quit', 'reload', 'reopen'];

/** Flags that take a value, by every spelling. */
const VALUED = new Map([
  ['-c', 'c'],
  ['-s', 's'],
  ['-g', 'g'],
  ['-p', 'port'],
  ['--port', 'port'],
  ['-a', 'address'],
  ['--address', 'address'],
  ['--cgi', 'cgi'],
]);

/** The default port of zero-config mode (http-server's and the example config's). */
export const ZERO_CONFIG_PORT = 8080;

/**
 * Parses argv (without node and the script). A usage error (unknown flag, missing or bad value, two
 * configurations) is an Err with the message; the caller prints it with the usage and exits 2.
 */
export function parseArgs(argv: readonly string[], env: ArgsEnv): Result<Command, string> {
  let mode: 'run' | 'test' | 'dump' = 'run';
  let signal: SignalName | null = null;
  let strict = false;
  let cFile: string | null = null;
  let positional: string | null = null;
  let globals: string | null = null;
  let port: number | null = null;
  let address: string | null = null;
  let spa = false;
  let listing = false;
  let upload = false;
  const cgi: [string, string][] = [];
  let zeroFlag: string | null = null;

  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const key = VALUED.get(flag);
    if (key !== undefined) {
      const value = eq > 0 ? raw.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') return err(`option ${flag} needs a value`);
      switch (key) {
        case 'c':
          if (cFile !== null) return err('-c given twice');
          cFile = value;
          break;
        case 's': {
          const s = SIGNALS.find((n) => n === value);
          if (s === undefined) return err(`bad signal "${value}" for -s: expected stop, quit, reload or reopen`);
          signal = s;
          break;
        }
        case 'g':
          globals = globals === null ? value : `${globals}\n${value}`;
          break;
        case 'port': {
          const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
          if (!(n >= 1 && n <= 65535)) return err(`bad port "${value}" for ${flag}: expected 1 to 65535`);
          port = n;
          zeroFlag ??= flag;
          break;
        }
        case 'address':
          address = value;
          zeroFlag ??= flag;
          break;
        default: {
          const m = /^(\.[^./=\s]+)=(.+)$/.exec(value);
          if (m === null || m[1] === undefined || m[2] === undefined)
            return err(`bad --cgi "${value}": expected .EXT=INTERPRETER, e.g. .py=python3`);
          cgi.push([m[1], m[2]]);
          zeroFlag ??= flag;
        }
      }
      continue;
    }
    if (eq > 0) return err(`option ${flag} takes no value`);
    switch (raw) {
      case '-h':
      case '-?':
      case '--help':
        return ok({ kind: 'help' });
      case '-v':
      case '--version':
        return ok({ kind: 'version' });
      case '-V':
        return ok({ kind: 'build-info' });
      case '--directives':
        return ok({ kind: 'directives' });
      case '-t':
        if (mode === 'run') mode = 'test';
        break;
      case '-T':
        mode = 'dump';
        break;
      case '--strict':
        strict = true;
        break;
      case '--spa':
        spa = true;
        zeroFlag ??= raw;
        break;
      case '--listing':
        listing = true;
        zeroFlag ??= raw;
        break;
      case '--upload':
        upload = true;
        zeroFlag ??= raw;
        break;
      default:
        if (raw.startsWith('-') && raw !== '-') return err(`unknown option ${raw}`);
        if (positional !== null) return err(`only one DIR or CONFIG may be given (got "${positional}" and "${raw}")`);
        positional = raw;
    }
  }

  if (signal !== null && mode !== 'run') return err('-s cannot be combined with -t or -T');
  const kind = signal !== null ? 'signal' : mode;
  const positionalIsDir = positional !== null && env.isDirectory(positional);
  if (cFile !== null && positional !== null)
    return err(`-c ${cFile} and "${positional}" both name what to serve: give one`);
  const fileGiven = cFile ?? (positional !== null && !positionalIsDir ? positional : null);
  if (fileGiven !== null) {
    if (zeroFlag !== null) return err(`${zeroFlag} serves a folder without a configuration; ${fileGiven} is one`);
    return ok({ kind, signal, configFile: fileGiven, zero: null, strict, globals });
  }
  // No file named: a directory, any zero-config flag, or no ./config.conf means zero-config mode.
  if (positional === null && zeroFlag === null && env.hasDefaultConfig)
    return ok({ kind, signal, configFile: 'config.conf', zero: null, strict, globals });
  // An uploaded file in a folder that runs scripts could be run (README "Safe defaults"); in a CGI location
  // the validator would take POST for the scripts and store nothing, so --upload would silently do nothing.
  if (upload && cgi.length > 0) return err('--upload and --cgi cannot share a folder: an upload could be run');
  const zero: ZeroConfigFlags = { dir: positional ?? '.', port, address, spa, listing, upload, cgi };
  return ok({ kind, signal, configFile: null, zero, strict, globals });
}

/** `localhost --help`. */
export const USAGE = `usage: localhost [DIR] [-p PORT] [-a ADDR] [--spa] [--listing] [--upload] [--cgi .EXT=INTERPRETER]...
       localhost [-c] CONFIG [-t | -T] [-g 'DIRECTIVES;'] [--strict]
       localhost [-c CONFIG] -s stop|quit|reload|reopen
       localhost -h | -v | -V | --directives

Serve a folder (no configuration file):
  DIR                 the folder to serve (default: the working directory; read-only, no listing,
                      dotfiles hidden)
  -p, --port N        port (default ${ZERO_CONFIG_PORT})
  -a, --address ADDR  address to bind (default 127.0.0.1; 0.0.0.0 for every IPv4 address)
  --spa               a single-page app: paths that are no file get index.html
  --listing           list directories without index.html
  --upload            accept POST uploads and DELETE in DIR
  --cgi .EXT=INTERP   run files ending in .EXT through INTERP (repeatable), e.g. --cgi .py=python3

Run from a configuration file (nginx's flags):
  CONFIG, -c FILE     the configuration file (default: ./config.conf when it exists)
  -t                  test the configuration and exit (0 valid, 1 with every error listed)
  -T                  test the configuration, print it, and exit
  -g 'DIRECTIVES;'    top-level directives added to the file's, e.g. -g 'pid /run/localhost.pid;'
  -s SIGNAL           signal the running instance through the file's "pid" file: stop (fast), quit
                      (graceful), reload (re-read the configuration), reopen (reopen the log files)
  --strict            refuse to start if any server block is broken (default: skip it, serve the others)

  -h, --help          show this help
  -v, --version       show the version
  -V                  show the version and build facts
  --directives        list every configuration directive: context, default, meaning

Exit status: 0 done, 1 the configuration or the start failed, 2 a usage error.
Every configuration directive, with its context, default and meaning: localhost --directives
`;
