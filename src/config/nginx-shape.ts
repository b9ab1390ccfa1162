/**
 * The shape of a pasted nginx.conf (issue 17): an optional `http { }` around the servers is unwrapped, `events { }`
 * and the main-level worker settings are accepted and ignored with a notice (one thread sizes its own
 * connections), and directives nginx has that this server does not are named as such.
 */
import { ConfigError } from './errors.js';
import type { DirectiveNode } from './parser.js';

/** Accepted and ignored, each with a notice. */
const IGNORED: ReadonlyMap<string, string> = new Map([
  ['events', 'one thread serves every connection here; limits are set per server'],
  ['worker_connections', 'one thread serves every connection here; limits are set per server'],
]);

/**
 * Directives of nginx (core, http and the stock modules) that this server does not have: "not supported (nginx
 * directive)" rather than "unknown directive", so a pasted file says what to remove.
 */
export const NGINX_DIRECTIVES: ReadonlySet<string> = new Set(
  (
    'absolute_redirect accept_mutex aio allow auth_basic auth_basic_user_file auth_request autoindex_exact_size ' +
    'autoindex_format autoindex_localtime break charset chunked_transfer_encoding client_body_buffer_size ' +
    'client_body_in_file_only client_body_temp_path client_header_buffer_size daemon deny ' +
    'directio etag fastcgi_buffers fastcgi_index fastcgi_param fastcgi_pass fastcgi_read_timeout ' +
    'fastcgi_split_path_info geo gzip gzip_comp_level gzip_min_length gzip_proxied gzip_static gzip_types ' +
    'gzip_vary http2 if if_modified_since ignore_invalid_headers internal keepalive_requests ' +
    'large_client_header_buffers limit_conn limit_conn_zone limit_rate limit_req limit_req_zone lingering_close ' +
    'lingering_time log_format map master_process merge_slashes msie_padding multi_accept open_file_cache ' +
    'output_buffers pid port_in_redirect postpone_output proxy_buffering proxy_buffers proxy_cache ' +
    'proxy_connect_timeout proxy_http_version proxy_pass proxy_read_timeout proxy_redirect proxy_set_header ' +
    'proxy_temp_path recursive_error_pages reset_timedout_connection resolver satisfy scgi_temp_path ' +
    'send_lowat sendfile server_name_in_redirect server_tokens set ssi ssl_certificate ssl_certificate_key ' +
    'ssl_ciphers ssl_prefer_server_ciphers ssl_protocols ssl_session_cache ssl_session_timeout stub_status ' +
    'tcp_nodelay tcp_nopush thread_pool types_hash_max_size underscores_in_headers upstream use user ' +
    'uwsgi_pass uwsgi_temp_path valid_referers variables_hash_max_size worker_cpu_affinity worker_priority ' +
    'worker_processes worker_rlimit_nofile worker_shutdown_timeout server_names_hash_bucket_size ' +
    'server_names_hash_max_size sendfile_max_chunk open_file_cache_valid open_file_cache_errors'
  ).split(' '),
);

/**
 * The top level as the validator expects it: an `http { }` block's directives in its place, ignored directives
 * dropped with a notice into `notices`, misuse (a second `http`, one inside a server) reported into `errors`.
 */
export function unwrapNginx(
  directives: readonly DirectiveNode[],
  errors: ConfigError[],
  notices: ConfigError[],
): DirectiveNode[] {
  const out: DirectiveNode[] = [];
  let http: DirectiveNode | null = null;
  for (const d of directives) {
    const why = IGNORED.get(d.name);
    if (why !== undefined) {
      notices.push(new ConfigError(d.pos, `notice: "${d.name}" is accepted and ignored: ${why}`));
      continue;
    }
    if (d.name !== 'http') {
      out.push(d);
      continue;
    }
    if (d.block === null || d.args.length > 0) {
      errors.push(new ConfigError(d.pos, '"http" takes no arguments and a block: http { server { ... } }'));
      continue;
    }
    if (http !== null) {
      errors.push(new ConfigError(d.pos, `duplicate "http" block (first at ${http.pos.line}:${http.pos.col})`));
      continue;
    }
    http = d;
    for (const inner of d.block.directives) {
      if (inner.name === 'http') errors.push(new ConfigError(inner.pos, '"http" cannot be inside "http"'));
      else if (IGNORED.has(inner.name))
        notices.push(new ConfigError(inner.pos, `notice: "${inner.name}" is accepted and ignored`));
      else out.push(inner);
    }
  }
  return out;
}
