/*
 * localhost_native: the system calls the native transport needs, and nothing else (no HTTP, no policy).
 *
 * One epoll set is registered with Node's libuv loop through a uv_poll_t. When libuv reports the epoll fd readable,
 * epoll_wait(..., 0) drains at most `capacity` ready entries into a preallocated Uint32Array as (fd, events,
 * generation) triples and ONE JavaScript callback receives the count. epoll_data carries fd | generation << 32 so
 * that JavaScript can drop an event meant for an earlier descriptor that had the same number.
 *
 * Conventions, for every exported function:
 * - arguments are checked (types, fd range, buffer bounds, lengths); a bad one is -EINVAL or -EBADF;
 * - failures are returned as -errno numbers; nothing here throws into JavaScript and nothing aborts;
 * - every descriptor created here is O_CLOEXEC (children get only what posix_spawn hands them) and, except the
 *   child's ends of its pipes, O_NONBLOCK.
 *
 * Built against node_api.h with NAPI_VERSION 8 (one binary for Node 20 and later) plus libuv's uv.h, which only
 * supplies the uv_poll_t calls: their ABI is stable across libuv 1.x, the major version Node ships.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Largest descriptor number accepted: descriptors are ints, and epoll_data keeps them in 32 bits. */
#define FD_MAX INT_MAX
/* The pooled read buffer: one read(2) never asks for more than this. */
#define READ_POOL 65536
/* Largest batch of ready events delivered in one callback, and of accept4 calls per call to accept(). */
#define CAPACITY_MAX 4096
#define ACCEPT_MAX 1024
/* Bounds on spawn arguments: a runaway caller gets -E2BIG, not an unbounded allocation. */
#define SPAWN_ARGS_MAX 4096
#define SPAWN_STRING_MAX (1 << 20)
/* sendfile(2) transfers at most this much per call on Linux. */
#define SENDFILE_MAX 0x7ffff000
/* 2^53: larger offsets are not exact in a JavaScript number. */
#define SAFE_INTEGER_MAX 9007199254740992.0

extern char **environ;

/* ─── The one epoll loop ──────────────────────────────────────────────────────────────────────────────────────── */

/*
 * Static, not per-instance: the project runs one thread and one Node environment, and a static state can never
 * leak. `owner` records the environment that opened it; any other (a worker, which the project never starts)
 * gets -EBUSY.
 */
static struct {
  napi_env owner;
  int epfd;
  int open;
  int polling;
  uv_poll_t poll;
  napi_ref callback;
  napi_ref events_ref;
  uint32_t *events_out;
  struct epoll_event *evs;
  int capacity;
  napi_async_context async_ctx;
  napi_ref resource;
  napi_async_cleanup_hook_handle cleanup;
  int cleaning;
} L = {NULL, -1, 0, 0, {0}, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0};

/* The read pool: the kernel copies into it, then exactly n bytes are copied into a Buffer JavaScript owns. */
static unsigned char read_pool[READ_POOL];
/* writev's iovec array, reused (single-threaded). */
static struct iovec iov_pool[IOV_MAX];

/* ─── Argument helpers: each returns 0 or a negative errno ─────────────────────────────────────────────────── */

static napi_value num(napi_env env, double v) {
  napi_value r = NULL;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value int_result(napi_env env, int64_t v) {
  napi_value r = NULL;
  if (v >= INT32_MIN && v <= INT32_MAX) napi_create_int32(env, (int32_t)v, &r);
  else napi_create_double(env, (double)v, &r);
  return r;
}

/* An integral number in [lo, hi]; -EINVAL otherwise (NaN, fractions, strings, undefined). */
static int get_integer(napi_env env, napi_value v, double lo, double hi, double *out) {
  napi_valuetype t;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -EINVAL;
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return -EINVAL;
  if (!(d >= lo && d <= hi) || d != (double)(int64_t)d) return -EINVAL;
  *out = d;
  return 0;
}

static int get_int(napi_env env, napi_value v, int lo, int hi, int *out) {
  double d;
  int rc = get_integer(env, v, (double)lo, (double)hi, &d);
  if (rc < 0) return rc;
  *out = (int)d;
  return 0;
}

/* A descriptor: a non-negative integer; anything else is -EBADF, as the kernel would say. */
static int get_fd(napi_env env, napi_value v, int *out) {
  double d;
  if (get_integer(env, v, 0, (double)FD_MAX, &d) < 0) return -EBADF;
  *out = (int)d;
  return 0;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  napi_valuetype t;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok) return -EINVAL;
  if (t == napi_boolean) {
    bool b;
    if (napi_get_value_bool(env, v, &b) != napi_ok) return -EINVAL;
    *out = b ? 1 : 0;
    return 0;
  }
  if (t == napi_number) return get_int(env, v, 0, 1, out);
  return -EINVAL;
}

/* A Buffer or any other ArrayBufferView: its bytes and length. */
static int get_bytes(napi_env env, napi_value v, unsigned char **data, size_t *len) {
  bool is = false;
  if (v == NULL || napi_is_buffer(env, v, &is) != napi_ok || !is) return -EINVAL;
  void *p = NULL;
  size_t n = 0;
  if (napi_get_buffer_info(env, v, &p, &n) != napi_ok) return -EINVAL;
  *data = (unsigned char *)p;
  *len = n;
  return 0;
}

/* A malloc'd NUL-terminated copy of a string without embedded NULs (they would silently cut an argument). */
static int get_string(napi_env env, napi_value v, char **out) {
  napi_valuetype t;
  if (v == NULL || napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -EINVAL;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -EINVAL;
  if (len > SPAWN_STRING_MAX) return -E2BIG;
  char *s = malloc(len + 1);
  if (s == NULL) return -ENOMEM;
  size_t got = 0;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &got) != napi_ok || got != len || strlen(s) != len) {
    free(s);
    return -EINVAL;
  }
  *out = s;
  return 0;
}

#define ARGS(n)                                                                  \
  size_t argc = (n);                                                             \
  napi_value argv[(n) > 0 ? (n) : 1] = {0};                                      \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return num(env, -EINVAL);

#define CHECK(expr)                          \
  do {                                       \
    int rc_ = (expr);                        \
    if (rc_ < 0) return int_result(env, rc_); \
  } while (0)

/* ─── The loop ─────────────────────────────────────────────────────────────────────────────────────────────── */

static void call_js(int count) {
  napi_env env = L.owner;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb = NULL, recv = NULL, arg = NULL;
  if (napi_get_reference_value(env, L.callback, &cb) == napi_ok && cb != NULL &&
      napi_get_reference_value(env, L.resource, &recv) == napi_ok && recv != NULL &&
      napi_create_int32(env, count, &arg) == napi_ok) {
    /* make_callback, not call_function: it runs the microtask and nextTick queues afterwards, as any I/O callback. */
    napi_status st = napi_make_callback(env, L.async_ctx, recv, cb, 1, &arg, NULL);
    if (st == napi_pending_exception) {
      napi_value e = NULL;
      if (napi_get_and_clear_last_exception(env, &e) == napi_ok && e != NULL) napi_fatal_exception(env, e);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void stop_polling(void) {
  if (L.polling) {
    uv_poll_stop(&L.poll);
    L.polling = 0;
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)events;
  if (L.cleaning || !L.open) return;
  if (status < 0) {
    /* libuv gave up on the epoll fd: stop, and let JavaScript know, rather than be called again and again. */
    stop_polling();
    call_js(status);
    return;
  }
  int n = epoll_wait(L.epfd, L.evs, L.capacity, 0);
  if (n < 0) {
    if (errno == EINTR) return; /* still readable: libuv calls again on its next turn */
    int e = errno;
    stop_polling();
    call_js(-e);
    return;
  }
  if (n == 0) return;
  uint32_t *out = L.events_out;
  for (int i = 0; i < n; i++) {
    uint64_t d = L.evs[i].data.u64;
    out[3 * i] = (uint32_t)(d & 0xffffffffu);
    out[3 * i + 1] = L.evs[i].events;
    out[3 * i + 2] = (uint32_t)(d >> 32);
  }
  call_js(n);
}

static void on_poll_closed(uv_handle_t *h) {
  (void)h;
  napi_env env = L.owner;
  if (L.epfd >= 0) close(L.epfd);
  L.epfd = -1;
  if (L.callback != NULL) napi_delete_reference(env, L.callback);
  if (L.events_ref != NULL) napi_delete_reference(env, L.events_ref);
  if (L.resource != NULL) napi_delete_reference(env, L.resource);
  if (L.async_ctx != NULL) napi_async_destroy(env, L.async_ctx);
  free(L.evs);
  napi_async_cleanup_hook_handle hh = L.cleanup;
  L.callback = L.events_ref = L.resource = NULL;
  L.async_ctx = NULL;
  L.evs = NULL;
  L.events_out = NULL;
  L.open = 0;
  L.cleanup = NULL;
  L.owner = NULL;
  L.cleaning = 0;
  if (hh != NULL) napi_remove_async_cleanup_hook(hh);
}

/* The environment is going away: the poll handle must be closed (asynchronously) before it is. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  (void)arg;
  if (!L.open) return;
  L.cleaning = 1;
  stop_polling();
  uv_close((uv_handle_t *)&L.poll, on_poll_closed);
}

/*
 * loopOpen(callback, capacity) → Uint32Array(3 * capacity) | -errno. The callback receives the number of triples
 * written (1..capacity), or a negative errno once, after which the loop no longer polls.
 */
static napi_value loop_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return num(env, -EINVAL);
  int cap;
  CHECK(get_int(env, argv[1], 1, CAPACITY_MAX, &cap));
  if (L.open || L.cleaning) return num(env, -EBUSY);
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return num(env, -EINVAL);

  struct epoll_event *evs = calloc((size_t)cap, sizeof *evs);
  if (evs == NULL) return num(env, -ENOMEM);
  void *data = NULL;
  napi_value ab = NULL, arr = NULL, resource = NULL, name = NULL;
  if (napi_create_arraybuffer(env, (size_t)cap * 3 * sizeof(uint32_t), &data, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, (size_t)cap * 3, ab, 0, &arr) != napi_ok ||
      napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "localhost.native.loop", NAPI_AUTO_LENGTH, &name) != napi_ok) {
    free(evs);
    return num(env, -ENOMEM);
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    int e = errno;
    free(evs);
    return num(env, -e);
  }
  int rc = uv_poll_init(loop, &L.poll, epfd);
  if (rc < 0) {
    close(epfd);
    free(evs);
    return num(env, rc);
  }
  rc = uv_poll_start(&L.poll, UV_READABLE, on_poll);
  if (rc < 0) {
    /* uv_poll_init succeeded: the handle must be closed through libuv; nothing else is set up yet. */
    L.epfd = epfd;
    L.owner = env;
    L.open = 1;
    L.evs = evs;
    L.cleaning = 1;
    uv_close((uv_handle_t *)&L.poll, on_poll_closed);
    return num(env, rc);
  }
  /* Unreferenced until something is registered: an idle loop must not keep the process alive. */
  uv_unref((uv_handle_t *)&L.poll);
  L.owner = env;
  L.epfd = epfd;
  L.evs = evs;
  L.capacity = cap;
  L.events_out = (uint32_t *)data;
  L.polling = 1;
  L.open = 1;
  napi_create_reference(env, argv[0], 1, &L.callback);
  napi_create_reference(env, arr, 1, &L.events_ref);
  napi_create_reference(env, resource, 1, &L.resource);
  napi_async_init(env, resource, name, &L.async_ctx);
  napi_add_async_cleanup_hook(env, on_env_cleanup, NULL, &L.cleanup);
  return arr;
}

/* loopRef(on) → 0 | -errno: whether the loop keeps the process alive (it should while anything is registered). */
static napi_value loop_ref(napi_env env, napi_callback_info info) {
  ARGS(1);
  int on;
  CHECK(get_bool(env, argv[0], &on));
  if (!L.open || L.owner != env || L.cleaning) return num(env, -EBADF);
  if (on) uv_ref((uv_handle_t *)&L.poll);
  else uv_unref((uv_handle_t *)&L.poll);
  return num(env, 0);
}

#define EVENTS_ALLOWED (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLONESHOT)

/* ctl(op, fd, generation, events) → 0 | -errno; op is 1 add, 2 del, 3 mod (EPOLL_CTL_*). */
static napi_value loop_ctl(napi_env env, napi_callback_info info) {
  ARGS(4);
  int op, fd;
  double gen, ev;
  CHECK(get_int(env, argv[0], 1, 3, &op));
  CHECK(get_fd(env, argv[1], &fd));
  CHECK(get_integer(env, argv[2], 0, 4294967295.0, &gen));
  CHECK(get_integer(env, argv[3], 0, 4294967295.0, &ev));
  uint32_t events = (uint32_t)ev;
  if (events & ~(uint32_t)EVENTS_ALLOWED) return num(env, -EINVAL);
  if (!L.open || L.owner != env || L.cleaning) return num(env, -EBADF);
  if (fd == L.epfd) return num(env, -EINVAL);
  struct epoll_event e;
  memset(&e, 0, sizeof e);
  e.events = events;
  e.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)(uint32_t)gen << 32);
  int rc = epoll_ctl(L.epfd, op == 1 ? EPOLL_CTL_ADD : op == 2 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD, fd, &e);
  return num(env, rc < 0 ? -errno : 0);
}

/* ─── Sockets ──────────────────────────────────────────────────────────────────────────────────────────────── */

/* Parses a numeric IPv4 or IPv6 literal (no names: resolving one would block). */
static int parse_address(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 0;
  }
  return -EINVAL;
}

/* A non-blocking, close-on-exec TCP socket for the numeric address `host_arg`:`port` (in *ss): fd | -errno. */
static int tcp_socket(napi_env env, napi_value host_arg, int port, struct sockaddr_storage *ss, socklen_t *len) {
  char *host = NULL;
  int rc = get_string(env, host_arg, &host);
  if (rc < 0) return rc;
  rc = parse_address(host, port, ss, len);
  free(host);
  if (rc < 0) return rc;
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

/* listenTcp(host, port, backlog, v6only) → fd | -errno: socket, SO_REUSEADDR, bind and listen, non-blocking. */
static napi_value listen_tcp(napi_env env, napi_callback_info info) {
  ARGS(4);
  int port, backlog, v6only;
  CHECK(get_int(env, argv[1], 0, 65535, &port));
  CHECK(get_int(env, argv[2], 1, 65535, &backlog));
  CHECK(get_bool(env, argv[3], &v6only));
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int fd = tcp_socket(env, argv[0], port, &ss, &len);
  if (fd < 0) return num(env, fd);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) goto fail;
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) goto fail;
  if (listen(fd, backlog) < 0) goto fail;
  return num(env, fd);
fail: {
  int e = errno;
  close(fd);
  return num(env, -e);
}
}

/*
 * accept(fd, out: Int32Array, max) → count | -errno: up to `max` accept4 calls, non-blocking and close-on-exec,
 * stopping at EAGAIN. An error after at least one success is left for the next call (the socket stays readable).
 */
static napi_value accept_batch(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd, max;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_int(env, argv[2], 1, ACCEPT_MAX, &max));
  bool is = false;
  napi_typedarray_type tt;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[1], &is) != napi_ok || !is) return num(env, -EINVAL);
  if (napi_get_typedarray_info(env, argv[1], &tt, &length, &data, NULL, NULL) != napi_ok || tt != napi_int32_array)
    return num(env, -EINVAL);
  if ((size_t)max > length) return num(env, -EINVAL);
  int32_t *out = (int32_t *)data;
  int n = 0;
  while (n < max) {
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      if (n > 0 || errno == EAGAIN || errno == EWOULDBLOCK) break;
      return num(env, -errno);
    }
    out[n++] = c;
  }
  return num(env, n);
}

/* read(fd, max) → Buffer (owned by the caller) | 0 at EOF | -errno. One read(2) of at most min(max, 64 KiB). */
static napi_value do_read(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd, max;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_int(env, argv[1], 1, INT_MAX, &max));
  size_t want = (size_t)max < READ_POOL ? (size_t)max : READ_POOL;
  ssize_t n;
  do n = read(fd, read_pool, want);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return num(env, n < 0 ? -errno : 0);
  napi_value b = NULL;
  if (napi_create_buffer_copy(env, (size_t)n, read_pool, NULL, &b) != napi_ok) return num(env, -ENOMEM);
  return b;
}

/* readInto(fd, buffer, offset, length) → bytes read (0 at EOF) | -errno, into the caller's buffer. */
static napi_value read_into(napi_env env, napi_callback_info info) {
  ARGS(4);
  int fd;
  unsigned char *data;
  size_t len;
  double off, n;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_bytes(env, argv[1], &data, &len));
  CHECK(get_integer(env, argv[2], 0, (double)len, &off));
  CHECK(get_integer(env, argv[3], 0, (double)len - off, &n));
  if (n == 0) return num(env, 0);
  ssize_t r;
  do r = read(fd, data + (size_t)off, (size_t)n);
  while (r < 0 && errno == EINTR);
  return int_result(env, r < 0 ? -errno : r);
}

/* write(fd, buffer, offset, length) → bytes written | -errno. */
static napi_value do_write(napi_env env, napi_callback_info info) {
  ARGS(4);
  int fd;
  unsigned char *data;
  size_t len;
  double off, n;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_bytes(env, argv[1], &data, &len));
  CHECK(get_integer(env, argv[2], 0, (double)len, &off));
  CHECK(get_integer(env, argv[3], 0, (double)len - off, &n));
  ssize_t r;
  do r = write(fd, data + (size_t)off, (size_t)n);
  while (r < 0 && errno == EINTR);
  return int_result(env, r < 0 ? -errno : r);
}

/*
 * writev(fd, buffers[], start, firstOffset, count) → bytes written | -errno: one writev(2) of
 * buffers[start..start+count) (count at most IOV_MAX), the first of them from firstOffset. The start index lets the
 * caller keep one queue array and pass it as is, without a slice per write.
 */
static napi_value do_writev(napi_env env, napi_callback_info info) {
  ARGS(5);
  int fd, count;
  double start, first;
  bool is = false;
  uint32_t alen = 0;
  CHECK(get_fd(env, argv[0], &fd));
  if (napi_is_array(env, argv[1], &is) != napi_ok || !is) return num(env, -EINVAL);
  if (napi_get_array_length(env, argv[1], &alen) != napi_ok) return num(env, -EINVAL);
  CHECK(get_integer(env, argv[2], 0, (double)alen, &start));
  CHECK(get_integer(env, argv[3], 0, SAFE_INTEGER_MAX, &first));
  CHECK(get_int(env, argv[4], 1, IOV_MAX, &count));
  if ((double)count > (double)alen - start) return num(env, -EINVAL);
  for (int i = 0; i < count; i++) {
    napi_value el = NULL;
    unsigned char *data;
    size_t len;
    if (napi_get_element(env, argv[1], (uint32_t)start + (uint32_t)i, &el) != napi_ok) return num(env, -EINVAL);
    CHECK(get_bytes(env, el, &data, &len));
    size_t skip = 0;
    if (i == 0) {
      if (first > (double)len) return num(env, -EINVAL);
      skip = (size_t)first;
    }
    iov_pool[i].iov_base = data + skip;
    iov_pool[i].iov_len = len - skip;
  }
  ssize_t r;
  do r = writev(fd, iov_pool, count);
  while (r < 0 && errno == EINTR);
  return int_result(env, r < 0 ? -errno : r);
}

/* sendfile(socketFd, fileFd, offset, count) → bytes sent | -errno, from `offset` of the file (its position unchanged). */
static napi_value do_sendfile(napi_env env, napi_callback_info info) {
  ARGS(4);
  int out, in;
  double off, count;
  CHECK(get_fd(env, argv[0], &out));
  CHECK(get_fd(env, argv[1], &in));
  CHECK(get_integer(env, argv[2], 0, SAFE_INTEGER_MAX, &off));
  CHECK(get_integer(env, argv[3], 0, (double)SENDFILE_MAX, &count));
  off_t o = (off_t)off;
  ssize_t r;
  do r = sendfile(out, in, &o, (size_t)count);
  while (r < 0 && errno == EINTR);
  return int_result(env, r < 0 ? -errno : r);
}

/* shutdown(fd, how) → 0 | -errno; how is 0 read, 1 write, 2 both (SHUT_*). */
static napi_value do_shutdown(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd, how;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_int(env, argv[1], 0, 2, &how));
  return num(env, shutdown(fd, how) < 0 ? -errno : 0);
}

/*
 * close(fd, deregister) → 0 | -errno. With `deregister`, the fd leaves the epoll set first: closing alone removes
 * it only once no other descriptor shares its file (a child between fork and exec may hold one), and until then
 * level-triggered events would keep arriving for a descriptor nobody reads.
 */
static napi_value do_close(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd, dereg;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_bool(env, argv[1], &dereg));
  if (L.open && fd == L.epfd) return num(env, -EBADF);
  if (dereg && L.open && !L.cleaning) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    epoll_ctl(L.epfd, EPOLL_CTL_DEL, fd, &e);
  }
  /* Linux releases the descriptor even when close(2) says EINTR: never retry (it could close a reused number). */
  int rc = close(fd);
  return num(env, rc < 0 && errno != EINTR ? -errno : 0);
}

/*
 * connectTcp(host, port) → fd | -errno: a non-blocking, close-on-exec TCP socket (TCP_NODELAY) whose connect(2) to
 * the numeric address is done or under way (EINPROGRESS). Its first EPOLLOUT (or EPOLLERR) says it is over;
 * sockError then says how.
 */
static napi_value connect_tcp(napi_env env, napi_callback_info info) {
  ARGS(2);
  int port;
  CHECK(get_int(env, argv[1], 1, 65535, &port));
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int fd = tcp_socket(env, argv[0], port, &ss, &len);
  if (fd < 0) return num(env, fd);
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) goto fail;
  if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) goto fail;
  return num(env, fd);
fail: {
  int e = errno;
  close(fd);
  return num(env, -e);
}
}

/*
 * connectUnix(path) → fd | -errno: a non-blocking, close-on-exec unix-domain stream socket connected to `path`
 * (such a connect completes at once or fails: ECONNREFUSED, ENOENT, EAGAIN with a full backlog).
 */
static napi_value connect_unix(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *p = NULL;
  CHECK(get_string(env, argv[0], &p));
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t n = strlen(p);
  if (n == 0 || n >= sizeof sa.sun_path) {
    free(p);
    return num(env, n == 0 ? -EINVAL : -ENAMETOOLONG);
  }
  memcpy(sa.sun_path, p, n);
  free(p);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  if (connect(fd, (struct sockaddr *)&sa, (socklen_t)sizeof sa) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  return num(env, fd);
}

/* sockError(fd) → 0 | -errno: the socket's pending error (SO_ERROR), which also clears it. */
static napi_value sock_error(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd;
  CHECK(get_fd(env, argv[0], &fd));
  int e = 0;
  socklen_t len = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) return num(env, -errno);
  return num(env, -e);
}

/* setNoDelay(fd, on) → 0 | -errno (TCP_NODELAY). */
static napi_value set_nodelay(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd, on;
  CHECK(get_fd(env, argv[0], &fd));
  CHECK(get_bool(env, argv[1], &on));
  return num(env, setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0 ? -errno : 0);
}

static napi_value address_of(napi_env env, napi_callback_info info, int peer) {
  ARGS(1);
  int fd;
  CHECK(get_fd(env, argv[0], &fd));
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (rc < 0) return num(env, -errno);
  char text[INET6_ADDRSTRLEN] = {0};
  int port;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    if (inet_ntop(AF_INET, &a->sin_addr, text, sizeof text) == NULL) return num(env, -errno);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    if (inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text) == NULL) return num(env, -errno);
    port = ntohs(a->sin6_port);
  } else {
    return num(env, -EAFNOSUPPORT);
  }
  napi_value arr = NULL, s = NULL, p = NULL;
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &s) != napi_ok || napi_create_int32(env, port, &p) != napi_ok ||
      napi_set_element(env, arr, 0, s) != napi_ok || napi_set_element(env, arr, 1, p) != napi_ok)
    return num(env, -ENOMEM);
  return arr;
}

/* sockName(fd) / peerName(fd) → [address, port] | -errno. */
static napi_value sock_name(napi_env env, napi_callback_info info) { return address_of(env, info, 0); }
static napi_value peer_name(napi_env env, napi_callback_info info) { return address_of(env, info, 1); }

/* ─── Processes ────────────────────────────────────────────────────────────────────────────────────────────── */

/* A NULL-terminated malloc'd vector of the strings of a JavaScript array. */
static int get_string_vector(napi_env env, napi_value v, char ***out) {
  bool is = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &is) != napi_ok || !is) return -EINVAL;
  if (napi_get_array_length(env, v, &n) != napi_ok) return -EINVAL;
  if (n > SPAWN_ARGS_MAX) return -E2BIG;
  char **vec = calloc((size_t)n + 1, sizeof *vec);
  if (vec == NULL) return -ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el = NULL;
    int rc = napi_get_element(env, v, i, &el) == napi_ok ? get_string(env, el, &vec[i]) : -EINVAL;
    if (rc < 0) {
      for (uint32_t j = 0; j < i; j++) free(vec[j]);
      free(vec);
      return rc;
    }
  }
  *out = vec;
  return 0;
}

static void free_vector(char **vec) {
  if (vec == NULL) return;
  for (char **p = vec; *p != NULL; p++) free(*p);
  free(vec);
}

static void close_pair(int p[2]) {
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
  p[0] = p[1] = -1;
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  return 0;
}

/* A close-on-exec pipe whose end `ours` (0 read, 1 write) is non-blocking; the child's end stays blocking. */
static int make_pipe(int p[2], int ours) {
  if (pipe2(p, O_CLOEXEC) < 0) {
    p[0] = p[1] = -1;
    return -errno;
  }
  int rc = set_nonblock(p[ours]);
  if (rc < 0) close_pair(p);
  return rc;
}

/*
 * Every signal, glibc's two internal ones included. glibc's sigfillset leaves out SIGCANCEL (32) and SIGSETXID
 * (33), and its posix_spawn then sets any signal outside the default set to SIG_IGN in the child when it is one of
 * those, a disposition exec keeps: the script would start with 32 and 33 ignored. sigaddset refuses them too, so
 * their bits are set by hand (on Linux a sigset_t is an array of unsigned long, bit n-1 for signal n).
 */
static void fill_all_signals(sigset_t *set) {
  sigfillset(set);
  unsigned long words[sizeof(sigset_t) / sizeof(unsigned long)];
  memcpy(words, set, sizeof words);
  const size_t bits = 8 * sizeof(unsigned long);
  for (int sig = 32; sig <= 33; sig++) words[(size_t)(sig - 1) / bits] |= 1UL << ((size_t)(sig - 1) % bits);
  memcpy(set, words, sizeof words);
}

#define STDIN_PIPE (-1)
#define STDIN_NULL (-2)

/*
 * spawn(file, argv[], envp[], cwd, stdin, out: Int32Array(5)) → 0 | -errno.
 * stdin: -1 a pipe, -2 /dev/null, or a descriptor the child gets a copy of (the caller keeps its own).
 * out: pid, pidfd, our end of stdin (or -1), our ends of stdout and stderr; all close-on-exec, non-blocking.
 *
 * glibc's posix_spawn runs the child with clone(CLONE_VM | CLONE_VFORK): nothing of this process is copied, and an
 * exec failure (ENOENT, EACCES, a missing cwd) comes back as the return value. The child gets its own process
 * group, an empty signal mask and every signal at its default action (Node ignores SIGPIPE; a script must not).
 */
static napi_value do_spawn(napi_env env, napi_callback_info info) {
  ARGS(6);
  int stdin_mode;
  CHECK(get_int(env, argv[4], STDIN_NULL, FD_MAX, &stdin_mode));
  bool is = false;
  napi_typedarray_type tt;
  size_t olen = 0;
  void *odata = NULL;
  if (napi_is_typedarray(env, argv[5], &is) != napi_ok || !is) return num(env, -EINVAL);
  if (napi_get_typedarray_info(env, argv[5], &tt, &olen, &odata, NULL, NULL) != napi_ok || tt != napi_int32_array ||
      olen < 5)
    return num(env, -EINVAL);
  int32_t *out = (int32_t *)odata;

  char *file = NULL, *cwd = NULL;
  char **args = NULL, **envp = NULL;
  int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int fa_init = 0, attr_init = 0;
  int rc = get_string(env, argv[0], &file);
  if (rc == 0 && file[0] == '\0') rc = -ENOENT;
  if (rc == 0) rc = get_string_vector(env, argv[1], &args);
  if (rc == 0 && args[0] == NULL) rc = -EINVAL; /* argv[0] is required */
  if (rc == 0) rc = get_string_vector(env, argv[2], &envp);
  if (rc == 0) rc = get_string(env, argv[3], &cwd);
  if (rc == 0 && stdin_mode >= 0 && fcntl(stdin_mode, F_GETFD) < 0) rc = -EBADF;
  if (rc == 0 && stdin_mode == STDIN_PIPE) rc = make_pipe(in_p, 1);
  if (rc == 0) rc = make_pipe(out_p, 0);
  if (rc == 0) rc = make_pipe(err_p, 0);
  if (rc == 0) rc = -posix_spawn_file_actions_init(&fa);
  if (rc == 0) fa_init = 1;
  if (rc == 0) {
    if (stdin_mode == STDIN_PIPE) rc = -posix_spawn_file_actions_adddup2(&fa, in_p[0], 0);
    else if (stdin_mode == STDIN_NULL) rc = -posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    else rc = -posix_spawn_file_actions_adddup2(&fa, stdin_mode, 0);
  }
  if (rc == 0) rc = -posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
  if (rc == 0) rc = -posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
  if (rc == 0 && cwd[0] != '\0') rc = -posix_spawn_file_actions_addchdir_np(&fa, cwd);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
  /* Ours are all close-on-exec; this also keeps from the script any descriptor this process inherited without
   * it (close_range in the child, after the dup2s above). */
  if (rc == 0) rc = -posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  if (rc == 0) rc = -posix_spawnattr_init(&attr);
  if (rc == 0) attr_init = 1;
  if (rc == 0) {
    sigset_t none, all;
    sigemptyset(&none);
    fill_all_signals(&all);
    /* A session of its own (setsid, so also a process group of its own), as node's `detached: true`: the group
     * is what killGroup signals, and on a kernel with sched_autogroup a script then competes for the CPU as its
     * own task group, as it does on the portable transport, instead of sharing the server's. */
    rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0) rc = -posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0) rc = -posix_spawnattr_setsigdefault(&attr, &all);
  }
  pid_t pid = -1;
  if (rc == 0) rc = -posix_spawn(&pid, file, &fa, &attr, args, envp);
  int pidfd = -1;
  if (rc == 0) {
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
      /* Without a pidfd its exit could not be learnt in the epoll set: stop it now rather than leak a zombie. */
      rc = -errno;
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
    }
  }
  if (fa_init) posix_spawn_file_actions_destroy(&fa);
  if (attr_init) posix_spawnattr_destroy(&attr);
  free(file);
  free(cwd);
  free_vector(args);
  free_vector(envp);
  /* The child's ends are the child's now (or nobody's, on failure). */
  if (in_p[0] >= 0) close(in_p[0]);
  if (out_p[1] >= 0) close(out_p[1]);
  if (err_p[1] >= 0) close(err_p[1]);
  in_p[0] = out_p[1] = err_p[1] = -1;
  if (rc < 0) {
    close_pair(in_p);
    close_pair(out_p);
    close_pair(err_p);
    return num(env, rc);
  }
  out[0] = pid;
  out[1] = pidfd;
  out[2] = in_p[1];
  out[3] = out_p[0];
  out[4] = err_p[0];
  return num(env, 0);
}

/*
 * waitExit(pidfd, out: Int32Array(2)) → 1 exited (out: code or -1, signal or 0) | 0 still running | -errno.
 * waitid(P_PIDFD, WEXITED | WNOHANG) reaps only our own child, never one libuv is waiting for.
 */
static napi_value wait_exit(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd;
  CHECK(get_fd(env, argv[0], &fd));
  bool is = false;
  napi_typedarray_type tt;
  size_t olen = 0;
  void *odata = NULL;
  if (napi_is_typedarray(env, argv[1], &is) != napi_ok || !is) return num(env, -EINVAL);
  if (napi_get_typedarray_info(env, argv[1], &tt, &olen, &odata, NULL, NULL) != napi_ok || tt != napi_int32_array ||
      olen < 2)
    return num(env, -EINVAL);
  int32_t *out = (int32_t *)odata;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return num(env, -errno);
  if (si.si_pid == 0) return num(env, 0);
  if (si.si_code == CLD_EXITED) {
    out[0] = si.si_status;
    out[1] = 0;
  } else {
    out[0] = -1;
    out[1] = si.si_status;
  }
  return num(env, 1);
}

/*
 * kill(pid, signal, group) → 0 | -errno: kill(2) to the process, or with `group` to its process group (-pid).
 * pid must be above 1: kill(0), kill(-1) and kill(1) would reach far more than one child.
 */
static napi_value do_kill(napi_env env, napi_callback_info info) {
  ARGS(3);
  int pid, sig, group;
  CHECK(get_int(env, argv[0], 2, INT_MAX, &pid));
  CHECK(get_int(env, argv[1], 0, 64, &sig));
  CHECK(get_bool(env, argv[2], &group));
  return num(env, kill(group ? -pid : pid, sig) < 0 ? -errno : 0);
}

/* ─── Module ───────────────────────────────────────────────────────────────────────────────────────────────── */

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_set_named_property(env, obj, name, int_result(env, v));
}

NAPI_MODULE_INIT() {
  napi_property_descriptor fns[] = {
      {"loopOpen", NULL, loop_open, NULL, NULL, NULL, napi_default, NULL},
      {"loopRef", NULL, loop_ref, NULL, NULL, NULL, napi_default, NULL},
      {"ctl", NULL, loop_ctl, NULL, NULL, NULL, napi_default, NULL},
      {"listenTcp", NULL, listen_tcp, NULL, NULL, NULL, napi_default, NULL},
      {"accept", NULL, accept_batch, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, do_read, NULL, NULL, NULL, napi_default, NULL},
      {"readInto", NULL, read_into, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, do_write, NULL, NULL, NULL, napi_default, NULL},
      {"writev", NULL, do_writev, NULL, NULL, NULL, napi_default, NULL},
      {"sendfile", NULL, do_sendfile, NULL, NULL, NULL, napi_default, NULL},
      {"shutdown", NULL, do_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, do_close, NULL, NULL, NULL, napi_default, NULL},
      {"setNoDelay", NULL, set_nodelay, NULL, NULL, NULL, napi_default, NULL},
      {"connectTcp", NULL, connect_tcp, NULL, NULL, NULL, napi_default, NULL},
      {"connectUnix", NULL, connect_unix, NULL, NULL, NULL, napi_default, NULL},
      {"sockError", NULL, sock_error, NULL, NULL, NULL, napi_default, NULL},
      {"sockName", NULL, sock_name, NULL, NULL, NULL, napi_default, NULL},
      {"peerName", NULL, peer_name, NULL, NULL, NULL, napi_default, NULL},
      {"spawn", NULL, do_spawn, NULL, NULL, NULL, napi_default, NULL},
      {"waitExit", NULL, wait_exit, NULL, NULL, NULL, napi_default, NULL},
      {"kill", NULL, do_kill, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  napi_value c = NULL;
  if (napi_create_object(env, &c) != napi_ok) return NULL;
  set_int(env, c, "EPOLLIN", EPOLLIN);
  set_int(env, c, "EPOLLOUT", EPOLLOUT);
  set_int(env, c, "EPOLLRDHUP", EPOLLRDHUP);
  set_int(env, c, "EPOLLPRI", EPOLLPRI);
  set_int(env, c, "EPOLLERR", EPOLLERR);
  set_int(env, c, "EPOLLHUP", EPOLLHUP);
  set_int(env, c, "EPOLLONESHOT", EPOLLONESHOT);
  set_int(env, c, "READ_MAX", READ_POOL);
  set_int(env, c, "IOV_MAX", IOV_MAX);
  set_int(env, c, "ACCEPT_MAX", ACCEPT_MAX);
  set_int(env, c, "CAPACITY_MAX", CAPACITY_MAX);
  set_int(env, c, "SENDFILE_MAX", SENDFILE_MAX);
  set_int(env, c, "ABI", 2);
  napi_set_named_property(env, exports, "constants", c);
  return exports;
}
