/**
 * The default and one-line meaning of every directive in validate.ts's tables, for `localhost --directives`.
 * Names, contexts and argument forms come from the tables themselves (`directiveTable()`); this file only adds
 * prose, and a unit test fails when a table directive has no entry here or an entry names no directive. It is a
 * separate file so that adding a directive's line to a table and its sentence here do not touch the same lines.
 */

/** What `--directives` says about one directive beyond the validator's table. */
export interface DirectiveDoc {
  /** The value when the directive is absent, as written in README ("none" when it has no default). */
  readonly default: string;
  /** One line, README's "meaning" column in short. */
  readonly meaning: string;
}

/** Keyed by `context name` (context `main` is the top level), so one name may live in two blocks. */
export const DIRECTIVE_DOCS: ReadonlyMap<string, DirectiveDoc> = new Map([
  ['main server', { default: 'required', meaning: 'a server block: addresses, names and locations' }],
  ['main strict', { default: 'off', meaning: 'one broken server block stops the start (as --strict)' }],
  ['main transport', { default: 'native where it loads', meaning: 'the transport for plain-TCP listeners' }],
  ['main log_format', { default: 'combined predefined', meaning: "a named access-log format of nginx's variables" }],
  ['main pid', { default: 'none', meaning: 'file holding the process id while running; -s signals through it' }],
  ['server host', { default: 'required without listen', meaning: 'address to bind (IPv4, IPv6 or localhost)' }],
  ['server port', { default: 'required without listen', meaning: 'ports on host; default_server: the default there' }],
  ['server listen', { default: 'none', meaning: "nginx's [ADDR:]PORT form, beside or instead of host/port" }],
  ['server server_name', { default: 'none', meaning: 'names matched against the Host header' }],
  ['server root', { default: 'none', meaning: "nginx's root: the whole URI appended; inherited by locations" }],
  ['server body_limit', { default: '1m', meaning: 'largest request body (k, m, g suffixes; 0 = unlimited)' }],
  ['server client_max_body_size', { default: '1m', meaning: "nginx's name for body_limit (the same directive)" }],
  ['server index', { default: 'none', meaning: 'files tried for a directory URL, in order; inherited by locations' }],
  ['server default_type', { default: 'application/octet-stream', meaning: 'Content-Type of unknown extensions' }],
  ['server types', { default: 'built-in table', meaning: 'MIME EXT... entries added over the built-in table' }],
  ['location body_limit', { default: "the server's", meaning: 'largest request body routed here; 0 = unlimited' }],
  ['location client_max_body_size', { default: "the server's", meaning: "nginx's name for body_limit" }],
  ['location index', { default: "the server's", meaning: 'files tried for a directory URL, in order' }],
  ['location default_type', { default: "the server's", meaning: 'Content-Type of unknown extensions here' }],
  ['location types', { default: "the server's", meaning: "MIME EXT... entries over the server's; { } empties" }],
  ['server error_page', { default: 'built-in page', meaning: 'file sent as the body of these error statuses' }],
  ['server client_header_timeout', { default: '10s', meaning: 'the request head must arrive within this' }],
  ['server client_body_timeout', { default: '10s', meaning: 'longest pause between two reads of a body' }],
  [
    'server keepalive_timeout',
    { default: '15s', meaning: 'an idle keep-alive connection is closed after this; 0 turns keep-alive off' },
  ],
  ['server send_timeout', { default: '30s', meaning: 'longest time a client may leave a response unread' }],
  ['server cgi_timeout', { default: '30s', meaning: 'a CGI script must send its headers within this' }],
  ['server session_timeout', { default: '30m', meaning: 'a session idle this long expires' }],
  ['server session_max', { default: '10000', meaning: 'most sessions kept; the least recently used is evicted' }],
  ['server session_max_per_address', { default: '100', meaning: 'most sessions one client address may hold' }],
  [
    'server session_store',
    { default: 'memory', meaning: 'where sessions live: this process, or redis://HOST:PORT[/DB] [prefix=P]' },
  ],
  [
    'server access_log',
    { default: 'off', meaning: 'access log file, stdout or off, in FORMAT (combined); buffer=, flush=, if=' },
  ],
  ['server error_log', { default: 'stderr info', meaning: 'error log file and least level (first server: process)' }],
  ['server location', { default: 'none', meaning: 'a location block: what a path prefix serves' }],
  ['location methods', { default: 'read-only', meaning: 'allowed methods, any tokens (PUT, PROPFIND...)' }],
  ['location root', { default: "the server's", meaning: 'directory that replaces the location prefix' }],
  ['location alias', { default: 'none', meaning: "nginx's name for a location's root (the same directive)" }],
  ['location default_file', { default: 'none', meaning: 'one-name form of index: file served for a directory URL' }],
  ['location directory_listing', { default: 'off', meaning: 'HTML listing of a directory without default file' }],
  ['location cgi', { default: 'none', meaning: 'run files with this extension through INTERPRETER (CGI/1.1)' }],
  ['location redirect', { default: 'none', meaning: 'answer 301 with Location: URL' }],
  ['location session', { default: 'off', meaning: 'a server-side session per client (cookie sid)' }],
  ['location status', { default: 'off', meaning: "answer with the server's counters (stub_status)" }],
  ['location metrics', { default: 'off', meaning: 'answer with the metrics in the Prometheus text format' }],
  ['location dotfiles', { default: 'deny', meaning: 'deny: a path segment starting with "." is 404' }],
  ['location disable_symlinks', { default: 'links inside root', meaning: 'off: follow every link; on: none' }],
  [
    'main worker_processes',
    { default: '1', meaning: 'above 1: a master binds the sockets and N workers serve (auto: one per CPU)' },
  ],
  [
    'main upstream',
    { default: 'none', meaning: 'a named group of servers for proxy_pass http://NAME and fastcgi_pass NAME' },
  ],
  [
    'server ssl_certificate',
    { default: 'none', meaning: 'PEM certificate (chain) of this server, for listen ... ssl' },
  ],
  ['server ssl_certificate_key', { default: 'none', meaning: 'PEM private key of that certificate' }],
  ['server ssl_protocols', { default: 'TLSv1.2 TLSv1.3', meaning: 'TLS versions offered, among TLSv1.2 and TLSv1.3' }],
  ['server ssl_ciphers', { default: 'Mozilla intermediate', meaning: 'OpenSSL cipher list' }],
  ['server gzip', { default: 'off', meaning: 'compress responses with gzip (see Compression)' }],
  [
    'server gzip_types',
    { default: 'text, JS, JSON, XML, SVG, wasm', meaning: 'media types gzip compresses: type/subtype, type/*, or *' },
  ],
  ['server gzip_min_length', { default: '256', meaning: 'shorter bodies are sent without gzip' }],
  ['server gzip_comp_level', { default: '1', meaning: 'gzip level 1-9' }],
  ['server brotli', { default: 'off', meaning: 'compress responses with br (ngx_brotli name)' }],
  ['server brotli_types', { default: 'text, JS, JSON, XML, SVG, wasm', meaning: 'media types br compresses' }],
  ['server brotli_min_length', { default: '256', meaning: 'shorter bodies are sent without br' }],
  ['server brotli_comp_level', { default: '6', meaning: 'br level 0-11' }],
  [
    'server rewrite',
    { default: 'none', meaning: "nginx's rewrite REGEX REPLACEMENT [last|break|redirect|permanent], captures $1..$9" },
  ],
  ['server return', { default: 'none', meaning: 'answer at once: a redirect with a URL, or a status with a text' }],
  [
    'server add_header',
    {
      default: 'none',
      meaning: 'add a response header (always: on every status); a level with any replaces outer ones',
    },
  ],
  ['server expires', { default: 'none', meaning: 'Expires and Cache-Control: TIME, epoch, max or off' }],
  [
    'server allow',
    { default: 'none', meaning: 'let this address, CIDR block or all in; the first matching rule wins' },
  ],
  ['server deny', { default: 'none', meaning: 'refuse this address, CIDR block or all with 403' }],
  [
    'server auth_basic',
    { default: 'off', meaning: 'ask for a password (401 with WWW-Authenticate Basic) in this realm' },
  ],
  ['server auth_basic_user_file', { default: 'none', meaning: 'htpasswd file: bcrypt, $apr1$, {SHA}, $5$, $6$' }],
  ['server satisfy', { default: 'all', meaning: 'all: address rules and password; any: either' }],
  [
    'server limit_req',
    { default: 'none', meaning: "nginx's leaky bucket per client address: rate=Nr/s|Nr/m [burst=N] [nodelay]" },
  ],
  ['server limit_req_status', { default: '429', meaning: 'status for requests over limit_req' }],
  ['server limit_conn', { default: 'none', meaning: 'at most N requests in progress per client address' }],
  ['server limit_conn_status', { default: '429', meaning: 'status for requests over limit_conn' }],
  ['server limit_rate', { default: '0', meaning: 'bytes per second of each response body (k, m suffixes; 0 = none)' }],
  ['server limit_rate_after', { default: '0', meaning: 'body bytes of a response sent before limit_rate applies' }],
  [
    'server set_real_ip_from',
    { default: 'none', meaning: 'trust this peer (address, CIDR or unix:) to name the client' },
  ],
  ['server real_ip_header', { default: 'X-Real-IP', meaning: 'the header a trusted peer names the client in' }],
  ['server real_ip_recursive', { default: 'off', meaning: 'on: the rightmost untrusted address; off: the last one' }],
  ['location gzip', { default: 'off', meaning: 'compress responses with gzip (see Compression)' }],
  [
    'location gzip_types',
    { default: 'text, JS, JSON, XML, SVG, wasm', meaning: 'media types gzip compresses: type/subtype, type/*, or *' },
  ],
  ['location gzip_min_length', { default: '256', meaning: 'shorter bodies are sent without gzip' }],
  ['location gzip_comp_level', { default: '1', meaning: 'gzip level 1-9' }],
  ['location brotli', { default: 'off', meaning: 'compress responses with br (ngx_brotli name)' }],
  ['location brotli_types', { default: 'text, JS, JSON, XML, SVG, wasm', meaning: 'media types br compresses' }],
  ['location brotli_min_length', { default: '256', meaning: 'shorter bodies are sent without br' }],
  ['location brotli_comp_level', { default: '6', meaning: 'br level 0-11' }],
  [
    'location rewrite',
    { default: 'none', meaning: "nginx's rewrite REGEX REPLACEMENT [last|break|redirect|permanent], captures $1..$9" },
  ],
  ['location return', { default: 'none', meaning: 'answer at once: a redirect with a URL, or a status with a text' }],
  [
    'location add_header',
    {
      default: 'none',
      meaning: 'add a response header (always: on every status); a level with any replaces outer ones',
    },
  ],
  ['location expires', { default: 'none', meaning: 'Expires and Cache-Control: TIME, epoch, max or off' }],
  [
    'location allow',
    { default: 'none', meaning: 'let this address, CIDR block or all in; the first matching rule wins' },
  ],
  ['location deny', { default: 'none', meaning: 'refuse this address, CIDR block or all with 403' }],
  [
    'location auth_basic',
    { default: 'off', meaning: 'ask for a password (401 with WWW-Authenticate Basic) in this realm' },
  ],
  ['location auth_basic_user_file', { default: 'none', meaning: 'htpasswd file: bcrypt, $apr1$, {SHA}, $5$, $6$' }],
  ['location satisfy', { default: 'all', meaning: 'all: address rules and password; any: either' }],
  [
    'location limit_req',
    { default: 'none', meaning: "nginx's leaky bucket per client address: rate=Nr/s|Nr/m [burst=N] [nodelay]" },
  ],
  ['location limit_req_status', { default: '429', meaning: 'status for requests over limit_req' }],
  ['location limit_conn', { default: 'none', meaning: 'at most N requests in progress per client address' }],
  ['location limit_conn_status', { default: '429', meaning: 'status for requests over limit_conn' }],
  [
    'location limit_rate',
    { default: '0', meaning: 'bytes per second of each response body (k, m suffixes; 0 = none)' },
  ],
  ['location limit_rate_after', { default: '0', meaning: 'body bytes of a response sent before limit_rate applies' }],
  [
    'location set_real_ip_from',
    { default: 'none', meaning: "as in the server block; any here replaces the server's list (nginx's merge)" },
  ],
  [
    'location real_ip_header',
    { default: 'X-Real-IP', meaning: "as in the server block, read when the server's changed nothing" },
  ],
  ['location real_ip_recursive', { default: 'off', meaning: 'as in the server block' }],
  [
    'location try_files',
    { default: 'none', meaning: 'serve the first candidate that exists, else an internal redirect to URI or =CODE' },
  ],
  [
    'location proxy_pass',
    { default: 'none', meaning: 'reverse proxy to http://ADDR[:PORT][/URI], http://unix:/PATH: or an upstream' },
  ],
  [
    'location proxy_set_header',
    { default: 'Host $proxy_host, X-Forwarded-*', meaning: 'a field sent upstream (variables allowed)' },
  ],
  ['location proxy_hide_header', { default: 'none', meaning: 'upstream response fields not passed to the client' }],
  ['location proxy_pass_header', { default: 'none', meaning: 'fields hidden by default passed after all' }],
  [
    'location proxy_connect_timeout',
    { default: '60s', meaning: 'connecting to the upstream; then the next server, or 504' },
  ],
  [
    'location proxy_read_timeout',
    {
      default: '60s',
      meaning: 'longest wait between two reads from the upstream, else 504; an idle WebSocket tunnel closes after it',
    },
  ],
  [
    'location proxy_send_timeout',
    { default: '60s', meaning: 'longest time the upstream may leave the request body unread, else 504' },
  ],
  [
    'location fastcgi_pass',
    { default: 'none', meaning: 'FastCGI application server (php-fpm): ADDR:PORT, unix:PATH or an upstream' },
  ],
  [
    'location fastcgi_param',
    { default: "nginx's fastcgi_params", meaning: 'a param sent to the application (variables allowed)' },
  ],
  ['location fastcgi_index', { default: 'none', meaning: 'appended to a script name ending in /' }],
  [
    'location fastcgi_split_path_info',
    { default: 'none', meaning: 'its two captures are $fastcgi_script_name and $fastcgi_path_info' },
  ],
  ['location fastcgi_keep_conn', { default: 'off', meaning: 'keep the connection to the application, and reuse it' }],
  [
    'location fastcgi_connect_timeout',
    { default: '60s', meaning: 'connecting to the application; then the next server, or 504' },
  ],
  [
    'location fastcgi_read_timeout',
    { default: '60s', meaning: 'longest wait between two reads from the application, else 504' },
  ],
  [
    'location fastcgi_send_timeout',
    { default: '60s', meaning: 'longest time the application may leave the request body unread, else 504' },
  ],
]);
