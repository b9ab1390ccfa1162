/**
 * Content-Type by file extension: nginx's default mime.types (1.22) plus common modern types
 * (from Debian's /etc/mime.types or the IANA registry). Unknown → application/octet-stream.
 */

/** The type sent for an unknown or missing extension (nginx's `default_type` in its stock config). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Bare types (no parameters) with their extensions; grouped as in nginx's mime.types. */
const TYPES: ReadonlyArray<readonly [string, string]> = [
  // nginx mime.types
  ['text/html', 'html htm shtml'],
  ['text/css', 'css'],
  ['text/xml', 'xml'],
  ['image/gif', 'gif'],
  ['image/jpeg', 'jpeg jpg'],
  ['application/javascript', 'js mjs cjs'],
  ['application/atom+xml', 'atom'],
  ['application/rss+xml', 'rss'],
  ['text/mathml', 'mml'],
  ['text/plain', 'txt'],
  ['text/vnd.sun.j2me.app-descriptor', 'jad'],
  ['text/vnd.wap.wml', 'wml'],
  ['text/x-component', 'htc'],
  ['image/avif', 'avif'],
  ['image/png', 'png'],
  ['image/svg+xml', 'svg svgz'],
  ['image/tiff', 'tif tiff'],
  ['image/vnd.wap.wbmp', 'wbmp'],
  ['image/webp', 'webp'],
  ['image/x-icon', 'ico'],
  ['image/x-jng', 'jng'],
  ['image/x-ms-bmp', 'bmp'],
  ['font/woff', 'woff'],
  ['font/woff2', 'woff2'],
  ['application/java-archive', 'jar war ear'],
  ['application/json', 'json map'],
  ['application/mac-binhex40', 'hqx'],
  ['application/msword', 'doc'],
  ['application/pdf', 'pdf'],
  ['application/postscript', 'ps eps ai'],
  ['application/rtf', 'rtf'],
  ['application/vnd.apple.mpegurl', 'm3u8'],
  ['application/vnd.google-earth.kml+xml', 'kml'],
  ['application/vnd.google-earth.kmz', 'kmz'],
  ['application/vnd.ms-excel', 'xls'],
  ['application/vnd.ms-fontobject', 'eot'],
  ['application/vnd.ms-powerpoint', 'ppt'],
  ['application/vnd.oasis.opendocument.graphics', 'odg'],
  ['application/vnd.oasis.opendocument.presentation', 'odp'],
  ['application/vnd.oasis.opendocument.spreadsheet', 'ods'],
  ['application/vnd.oasis.opendocument.text', 'odt'],
  ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'pptx'],
  ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
  ['application/vnd.wap.wmlc', 'wmlc'],
  ['application/wasm', 'wasm'],
  ['application/x-7z-compressed', '7z'],
  ['application/x-cocoa', 'cco'],
  ['application/x-java-archive-diff', 'jardiff'],
  ['application/x-java-jnlp-file', 'jnlp'],
  ['application/x-makeself', 'run'],
  ['application/x-perl', 'pl pm'],
  ['application/x-pilot', 'prc pdb'],
  ['application/x-rar-compressed', 'rar'],
  ['application/x-redhat-package-manager', 'rpm'],
  ['application/x-sea', 'sea'],
  ['application/x-shockwave-flash', 'swf'],
  ['application/x-stuffit', 'sit'],
  ['application/x-tcl', 'tcl tk'],
  ['application/x-x509-ca-cert', 'der pem crt'],
  ['application/x-xpinstall', 'xpi'],
  ['application/xhtml+xml', 'xhtml'],
  ['application/xspf+xml', 'xspf'],
  ['application/zip', 'zip'],
  ['application/octet-stream', 'bin exe dll deb dmg iso img msi msp msm'],
  ['audio/midi', 'mid midi kar'],
  ['audio/mpeg', 'mp3'],
  ['audio/ogg', 'ogg oga opus'],
  ['audio/x-m4a', 'm4a'],
  ['audio/x-realaudio', 'ra'],
  ['video/3gpp', '3gpp 3gp'],
  ['video/mp2t', 'ts'],
  ['video/mp4', 'mp4'],
  ['video/mpeg', 'mpeg mpg'],
  ['video/quicktime', 'mov'],
  ['video/webm', 'webm'],
  ['video/x-flv', 'flv'],
  ['video/x-m4v', 'm4v'],
  ['video/x-mng', 'mng'],
  ['video/x-ms-asf', 'asx asf'],
  ['video/x-ms-wmv', 'wmv'],
  ['video/x-msvideo', 'avi'],
  // Modern additions (Debian mime.types where it has them, else the IANA registration).
  ['text/markdown', 'md markdown'],
  ['text/csv', 'csv'],
  ['text/tab-separated-values', 'tsv'],
  ['text/calendar', 'ics'],
  ['text/vtt', 'vtt'],
  ['text/x-python', 'py'],
  ['application/yaml', 'yaml yml'], // RFC 9512
  ['application/toml', 'toml'],
  ['application/ld+json', 'jsonld'],
  ['application/manifest+json', 'webmanifest'],
  ['application/xslt+xml', 'xsl xslt'],
  ['application/epub+zip', 'epub'],
  ['application/gzip', 'gz tgz'],
  ['application/x-bzip2', 'bz2'],
  ['application/x-xz', 'xz'],
  ['application/zstd', 'zst'],
  ['application/x-tar', 'tar'],
  ['application/x-sh', 'sh'],
  ['application/x-httpd-php', 'php'],
  ['audio/wav', 'wav'],
  ['audio/flac', 'flac'],
  ['audio/aac', 'aac'],
  ['audio/webm', 'weba'],
  ['video/ogg', 'ogv'],
  ['video/x-matroska', 'mkv'],
  ['image/apng', 'apng'],
  ['image/jxl', 'jxl'],
  ['image/heic', 'heic'],
  ['image/heif', 'heif'],
  ['font/otf', 'otf'],
  ['font/ttf', 'ttf'],
];

/** Non-`text/*` types that are text and get a charset too (docs/ARCHITECTURE.md "Handlers": UTF-8 is assumed). */
const CHARSET_TYPES: ReadonlySet<string> = new Set([
  'application/javascript',
  'application/json',
  'application/xml',
  'image/svg+xml',
]);

function withCharset(type: string): string {
  return type.startsWith('text/') || CHARSET_TYPES.has(type) ? `${type}; charset=utf-8` : type;
}

/** Lower-case extension (no dot) → full Content-Type value, charset already appended where due. */
export const MIME_TYPES: ReadonlyMap<string, string> = new Map(
  TYPES.flatMap(([type, exts]) => exts.split(' ').map((ext): [string, string] => [ext, withCharset(type)])),
);

/**
 * The types a location serves files with (README "Routing"): the built-in table with the server's and the
 * location's `types { }` entries over it, and `default_type` for the rest. Tables are interned by their content
 * (`mimeTable`), so locations (and reloads) that say the same share one object, and `key` tells caches apart.
 */
export interface MimeTable {
  /** Lower-case extension → full Content-Type value (empty after `types { }`, nginx's way to send every file as
   *  `default_type`). */
  readonly types: ReadonlyMap<string, string>;
  /** The Content-Type of a file whose extension is not in `types`. */
  readonly defaultType: string;
  /** "" for the built-in table; otherwise unique to this content, for cache keys. */
  readonly key: string;
}

/** The built-in table and default: what a location that sets neither `types` nor `default_type` uses. */
export const DEFAULT_MIME: MimeTable = { types: MIME_TYPES, defaultType: DEFAULT_CONTENT_TYPE, key: '' };

const interned = new Map<string, MimeTable>();

/**
 * The table of `entries` (extension → bare type, in the order written; later ones win) over `base` (the built-in
 * table, or none when `clear`: an empty `types { }`), with `defaultType` (bare, or with parameters as written).
 * Text types get `; charset=utf-8` as the built-in ones do.
 */
export function mimeTable(
  entries: ReadonlyArray<readonly [string, string]>,
  clear: boolean,
  defaultType: string,
): MimeTable {
  const full = defaultType.includes(';') ? defaultType : withCharset(defaultType);
  if (!clear && entries.length === 0 && full === DEFAULT_CONTENT_TYPE) return DEFAULT_MIME;
  const key = `\0${clear ? 'clear' : 'base'}\0${full}\0${entries.map(([e, t]) => `${e}=${t}`).join(' ')}`;
  const known = interned.get(key);
  if (known !== undefined) return known;
  const types = new Map(clear ? [] : MIME_TYPES);
  for (const [ext, type] of entries) types.set(ext, withCharset(type));
  const table: MimeTable = { types, defaultType: full, key };
  if (interned.size >= 1000) interned.clear(); // only reloads make new ones; never let them pile up
  interned.set(key, table);
  return table;
}

/**
 * Content-Type for a file path: the text after the last `.` of the last path segment, looked up
 * case-insensitively (as nginx does: `/.json` has extension `json`) in `table`; unknown → its default type.
 */
export function contentTypeFor(path: string, table: MimeTable = DEFAULT_MIME): string {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return table.defaultType;
  return table.types.get(path.slice(dot + 1).toLowerCase()) ?? table.defaultType;
}
