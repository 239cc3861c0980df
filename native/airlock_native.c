/*
 * Airlock native relay: moves the bytes of established CONNECT tunnels between two TCP sockets
 * on a thread of its own (epoll, edge-triggered, one shared read buffer), and opens listening
 * sockets with SO_REUSEPORT so that worker processes accept on their own without a hand-off.
 *
 * The JavaScript side does everything up to the splice (policy, DNS, connect, SNI check), then
 * hands both file descriptors over with the bytes it already holds. Per tunnel this costs one
 * small struct; a direction that cannot write everything keeps the rest in a buffer of its own
 * and stops reading until the peer drains it, so memory stays bounded and backpressure holds.
 *
 * Linux only (epoll, eventfd, SO_REUSEPORT).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)
#define EVENTS_PER_WAIT 512
/* Reads per direction per wake-up before other tunnels get a turn. */
#define READS_PER_TURN 8

enum end_reason { END_CLOSED = 0, END_CLIENT_ERROR = 1, END_UPSTREAM_ERROR = 2, END_IDLE = 3, END_ABORTED = 4 };

typedef struct {
  char *pending;      /* bytes read from the source that the destination has not taken yet */
  uint32_t pending_len;
  uint32_t pending_off;
  uint8_t eof;        /* the source sent FIN */
  uint8_t shut;       /* FIN passed on to the destination */
  uint8_t again;      /* on the run-again list */
  uint64_t bytes;     /* bytes written to the destination */
} direction_t;

typedef struct tunnel {
  double id;
  int fd[2];          /* 0 = client, 1 = upstream */
  direction_t d[2];   /* d[0]: client -> upstream, d[1]: upstream -> client */
  int64_t last_active;
  int64_t idle_ms;
  uint32_t live_index;
  uint8_t closed;
  int32_t error;
  struct tunnel *next; /* add queue, then free list */
} tunnel_t;

typedef struct {
  double id;
  double bytes_up;
  double bytes_down;
  double reason;
  double error;
} done_t;

static struct {
  pthread_mutex_t lock;
  pthread_t thread;
  int started;
  int epfd;
  int wakefd;
  napi_threadsafe_function tsfn;
  /* shared under lock */
  tunnel_t *adds;
  double *aborts;
  size_t aborts_len, aborts_cap;
  int abort_all;
  done_t *done;
  size_t done_len, done_cap;
  double next_id;
  /* engine thread only */
  tunnel_t **live;
  size_t live_len, live_cap;
  tunnel_t *to_free;
  char *buf;
  int64_t last_scan;
} E;

/* A run-again entry: a direction that stopped after READS_PER_TURN reads with more to read. */
typedef struct {
  tunnel_t *t;
  int k;
} again_t;
static again_t *again;
static size_t again_len, again_cap;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push_done(tunnel_t *t, int reason) {
  pthread_mutex_lock(&E.lock);
  if (E.done_len == E.done_cap) {
    size_t cap = E.done_cap ? E.done_cap * 2 : 256;
    done_t *grown = realloc(E.done, cap * sizeof(done_t));
    if (grown == NULL) abort();
    E.done = grown;
    E.done_cap = cap;
  }
  int was_empty = E.done_len == 0;
  E.done[E.done_len++] = (done_t){t->id, (double)t->d[0].bytes, (double)t->d[1].bytes, reason, t->error};
  pthread_mutex_unlock(&E.lock);
  if (was_empty) napi_call_threadsafe_function(E.tsfn, NULL, napi_tsfn_nonblocking);
}

static void end_tunnel(tunnel_t *t, int reason) {
  if (t->closed) return;
  t->closed = 1;
  for (int s = 0; s < 2; s++) {
    epoll_ctl(E.epfd, EPOLL_CTL_DEL, t->fd[s], NULL);
    close(t->fd[s]);
    free(t->d[s].pending);
    t->d[s].pending = NULL;
  }
  /* swap-remove from the live list */
  tunnel_t *last = E.live[--E.live_len];
  E.live[t->live_index] = last;
  last->live_index = t->live_index;
  push_done(t, reason);
  t->next = E.to_free;
  E.to_free = t;
}

static void fail(tunnel_t *t, int side, int err) {
  /* A side that already sent its FIN and then refuses what is still coming (RST) has closed:
     that ends the tunnel normally. */
  if (t->d[side].eof) {
    end_tunnel(t, END_CLOSED);
    return;
  }
  t->error = err;
  end_tunnel(t, side == 0 ? END_CLIENT_ERROR : END_UPSTREAM_ERROR);
}

static void check_done(tunnel_t *t) {
  if (t->d[0].shut && t->d[1].shut) end_tunnel(t, END_CLOSED);
}

/* Passes the FIN of direction k on once everything before it has been written. */
static void maybe_shut(tunnel_t *t, int k) {
  direction_t *d = &t->d[k];
  if (!d->eof || d->shut || d->pending != NULL) return;
  d->shut = 1;
  if (shutdown(t->fd[1 - k], SHUT_WR) != 0 && errno != ENOTCONN) {
    fail(t, 1 - k, errno);
    return;
  }
  check_done(t);
}

/* Writes what direction k has pending; returns 1 when nothing is left. */
static int flush(tunnel_t *t, int k) {
  direction_t *d = &t->d[k];
  while (d->pending != NULL) {
    ssize_t w = send(t->fd[1 - k], d->pending + d->pending_off, d->pending_len - d->pending_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      fail(t, 1 - k, errno);
      return 0;
    }
    d->bytes += (uint64_t)w;
    d->pending_off += (uint32_t)w;
    if (d->pending_off == d->pending_len) {
      free(d->pending);
      d->pending = NULL;
      d->pending_len = d->pending_off = 0;
    }
  }
  return 1;
}

static void keep(direction_t *d, const char *bytes, size_t len) {
  d->pending = malloc(len);
  if (d->pending == NULL) abort();
  memcpy(d->pending, bytes, len);
  d->pending_len = (uint32_t)len;
  d->pending_off = 0;
}

static void queue_again(tunnel_t *t, int k) {
  if (t->d[k].again) return;
  if (again_len == again_cap) {
    size_t cap = again_cap ? again_cap * 2 : 64;
    again_t *grown = realloc(again, cap * sizeof(again_t));
    if (grown == NULL) abort();
    again = grown;
    again_cap = cap;
  }
  t->d[k].again = 1;
  again[again_len++] = (again_t){t, k};
}

/* Reads from the source of direction k and writes to its destination until EAGAIN, EOF or a full peer. */
static void pump(tunnel_t *t, int k) {
  direction_t *d = &t->d[k];
  int src = t->fd[k], dst = t->fd[1 - k];
  for (int turn = 0; turn < READS_PER_TURN; turn++) {
    if (t->closed || d->eof || d->pending != NULL) return;
    ssize_t n = recv(src, E.buf, READ_SIZE, 0);
    if (n > 0) {
      t->last_active = now_ms();
      ssize_t w = send(dst, E.buf, (size_t)n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) w = 0;
        else if (errno == EAGAIN || errno == EWOULDBLOCK) w = 0;
        else {
          fail(t, 1 - k, errno);
          return;
        }
      }
      d->bytes += (uint64_t)w;
      if (w < n) {
        /* The peer is full: keep the rest and stop reading until it drains (EPOLLOUT). */
        keep(d, E.buf + w, (size_t)(n - w));
        return;
      }
      continue;
    }
    if (n == 0) {
      d->eof = 1;
      maybe_shut(t, k);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    fail(t, k, errno);
    return;
  }
  queue_again(t, k);
}

static void on_event(tunnel_t *t, int side, uint32_t events) {
  if (t->closed) return;
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(t->fd[side], SOL_SOCKET, SO_ERROR, &err, &len);
    fail(t, side, err ? err : ECONNRESET);
    return;
  }
  if (events & EPOLLOUT) {
    /* The fd of `side` can take more: the direction writing to it is 1 - side. */
    int k = 1 - side;
    if (t->d[k].pending != NULL && flush(t, k)) {
      maybe_shut(t, k);
      pump(t, k);
    }
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) pump(t, side);
}

static void add_live(tunnel_t *t) {
  if (E.live_len == E.live_cap) {
    size_t cap = E.live_cap ? E.live_cap * 2 : 1024;
    tunnel_t **grown = realloc(E.live, cap * sizeof(tunnel_t *));
    if (grown == NULL) abort();
    E.live = grown;
    E.live_cap = cap;
  }
  t->live_index = (uint32_t)E.live_len;
  E.live[E.live_len++] = t;
}

static void start_tunnel(tunnel_t *t) {
  add_live(t);
  t->last_active = now_ms();
  for (int s = 0; s < 2; s++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)(uintptr_t)t | (uint64_t)s};
    if (epoll_ctl(E.epfd, EPOLL_CTL_ADD, t->fd[s], &ev) != 0) {
      fail(t, s, errno);
      return;
    }
  }
  /* Bytes the JavaScript side had already read go first; then whatever waits in the kernel. */
  for (int k = 0; k < 2; k++) {
    if (t->d[k].pending != NULL && flush(t, k)) maybe_shut(t, k);
  }
  for (int k = 0; k < 2; k++) pump(t, k);
}

static void take_commands(void) {
  uint64_t ignored;
  while (read(E.wakefd, &ignored, sizeof ignored) > 0) {
  }
  pthread_mutex_lock(&E.lock);
  tunnel_t *adds = E.adds;
  E.adds = NULL;
  int all = E.abort_all;
  E.abort_all = 0;
  size_t n = E.aborts_len;
  double *ids = NULL;
  if (n > 0) {
    ids = malloc(n * sizeof(double));
    if (ids == NULL) abort();
    memcpy(ids, E.aborts, n * sizeof(double));
    E.aborts_len = 0;
  }
  pthread_mutex_unlock(&E.lock);
  /* the queue is newest first: reverse it so tunnels start in the order they were handed over */
  tunnel_t *ordered = NULL;
  while (adds != NULL) {
    tunnel_t *next = adds->next;
    adds->next = ordered;
    ordered = adds;
    adds = next;
  }
  while (ordered != NULL) {
    tunnel_t *next = ordered->next;
    ordered->next = NULL;
    start_tunnel(ordered);
    ordered = next;
  }
  if (all) {
    while (E.live_len > 0) end_tunnel(E.live[E.live_len - 1], END_ABORTED);
  }
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < E.live_len; j++) {
      if (E.live[j]->id == ids[i]) {
        end_tunnel(E.live[j], END_ABORTED);
        break;
      }
    }
  }
  free(ids);
}

static void scan_idle(int64_t now) {
  for (size_t i = 0; i < E.live_len;) {
    tunnel_t *t = E.live[i];
    /* idle_ms 0: no idle timeout (timeouts.tunnelIdle: 0), as in the JavaScript engine. */
    if (t->idle_ms > 0 && now - t->last_active >= t->idle_ms) end_tunnel(t, END_IDLE); /* swaps another into slot i */
    else i++;
  }
}

static void *engine_main(void *arg) {
  (void)arg;
  struct epoll_event events[EVENTS_PER_WAIT];
  for (;;) {
    int n = epoll_wait(E.epfd, events, EVENTS_PER_WAIT, again_len > 0 ? 0 : 1000);
    if (n < 0 && errno != EINTR) abort();
    int commands = 0;
    for (int i = 0; i < n; i++) {
      uint64_t data = events[i].data.u64;
      if (data == 0) {
        commands = 1;
        continue;
      }
      on_event((tunnel_t *)(uintptr_t)(data & ~(uint64_t)1), (int)(data & 1), events[i].events);
    }
    size_t runs = again_len;
    for (size_t i = 0; i < runs; i++) {
      tunnel_t *t = again[i].t;
      t->d[again[i].k].again = 0;
    }
    for (size_t i = 0; i < runs; i++) pump(again[i].t, again[i].k);
    /* Entries queued during this turn move to the front. `again` is NULL until the first entry,
       and memmove's pointers must be valid even for a length of 0. */
    if (again_len > runs) memmove(again, again + runs, (again_len - runs) * sizeof(again_t));
    again_len -= runs;
    if (commands) take_commands();
    int64_t now = now_ms();
    if (now - E.last_scan >= 1000) {
      E.last_scan = now;
      scan_idle(now);
    }
    /* Tunnels ended in this turn are freed only now: later events of the same batch may name them. */
    while (E.to_free != NULL) {
      tunnel_t *next = E.to_free->next;
      int queued = E.to_free->d[0].again || E.to_free->d[1].again;
      if (queued) {
        /* still on the run-again list: pump() returns at once for a closed tunnel; free later */
        E.to_free->d[0].again = E.to_free->d[1].again = 0;
        for (size_t i = 0; i < again_len; i++) {
          if (again[i].t == E.to_free) {
            memmove(again + i, again + i + 1, (again_len - i - 1) * sizeof(again_t));
            again_len--;
            i--;
          }
        }
      }
      free(E.to_free);
      E.to_free = next;
    }
  }
  return NULL;
}

/* ---------- JavaScript side ---------- */

#define CHECK(call)                                                                                 \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "airlock native: " #call " failed");                             \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  (void)data;
  if (env == NULL) return;
  pthread_mutex_lock(&E.lock);
  size_t n = E.done_len;
  done_t *copy = NULL;
  if (n > 0) {
    copy = malloc(n * sizeof(done_t));
    if (copy == NULL) abort();
    memcpy(copy, E.done, n * sizeof(done_t));
    E.done_len = 0;
  }
  pthread_mutex_unlock(&E.lock);
  if (n == 0) return;
  napi_value ab, arr, undef;
  void *raw;
  size_t per = sizeof(done_t) / sizeof(double);
  if (napi_create_arraybuffer(env, n * sizeof(done_t), &raw, &ab) != napi_ok) abort();
  memcpy(raw, copy, n * sizeof(done_t));
  free(copy);
  napi_create_typedarray(env, napi_float64_array, n * per, ab, 0, &arr);
  napi_get_undefined(env, &undef);
  if (napi_call_function(env, undef, js_cb, 1, &arr, NULL) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

/* start(onDone(records: Float64Array [id, bytesUp, bytesDown, reason, errno] * n)) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (E.started) {
    napi_throw_error(env, NULL, "airlock native: the relay is already started");
    return NULL;
  }
  E.buf = malloc(READ_SIZE);
  E.epfd = epoll_create1(EPOLL_CLOEXEC);
  E.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (E.buf == NULL || E.epfd < 0 || E.wakefd < 0) {
    napi_throw_error(env, NULL, "airlock native: cannot create epoll/eventfd");
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
  epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.wakefd, &ev);
  CHECK(napi_create_string_utf8(env, "airlock-relay", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &E.tsfn));
  CHECK(napi_unref_threadsafe_function(env, E.tsfn));
  pthread_mutex_init(&E.lock, NULL);
  E.next_id = 1;
  E.last_scan = now_ms();
  if (pthread_create(&E.thread, NULL, engine_main, NULL) != 0) {
    napi_throw_error(env, NULL, "airlock native: cannot start the relay thread");
    return NULL;
  }
  pthread_detach(E.thread);
  E.started = 1;
  return NULL;
}

static void wake(void) {
  uint64_t one = 1;
  ssize_t ignored = write(E.wakefd, &one, sizeof one);
  (void)ignored;
}

static int copy_pending(napi_env env, napi_value value, direction_t *d) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined || type == napi_null) return 1;
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) return 0;
  void *data;
  size_t len;
  napi_get_buffer_info(env, value, &data, &len);
  if (len > 0) keep(d, data, len);
  return 1;
}

/* add(clientFd, upstreamFd, toUpstream: Buffer|null, toClient: Buffer|null, idleMs (0: none)) -> id */
static napi_value js_add(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd0, fd1;
  double idle;
  if (!E.started || argc < 5 || napi_get_value_int32(env, argv[0], &fd0) != napi_ok ||
      napi_get_value_int32(env, argv[1], &fd1) != napi_ok || napi_get_value_double(env, argv[4], &idle) != napi_ok) {
    napi_throw_type_error(env, NULL, "airlock native: add(clientFd, upstreamFd, toUpstream, toClient, idleMs)");
    return NULL;
  }
  tunnel_t *t = calloc(1, sizeof(tunnel_t));
  if (t == NULL) abort();
  if (!copy_pending(env, argv[2], &t->d[0]) || !copy_pending(env, argv[3], &t->d[1])) {
    free(t->d[0].pending);
    free(t->d[1].pending);
    free(t);
    napi_throw_type_error(env, NULL, "airlock native: pending bytes must be a Buffer or null");
    return NULL;
  }
  t->fd[0] = fcntl(fd0, F_DUPFD_CLOEXEC, 3);
  t->fd[1] = fcntl(fd1, F_DUPFD_CLOEXEC, 3);
  if (t->fd[0] < 0 || t->fd[1] < 0) {
    int err = errno;
    if (t->fd[0] >= 0) close(t->fd[0]);
    if (t->fd[1] >= 0) close(t->fd[1]);
    free(t->d[0].pending);
    free(t->d[1].pending);
    free(t);
    napi_throw_error(env, err == EMFILE ? "EMFILE" : NULL, "airlock native: cannot duplicate the tunnel sockets");
    return NULL;
  }
  int one = 1;
  for (int s = 0; s < 2; s++) {
    int flags = fcntl(t->fd[s], F_GETFL);
    fcntl(t->fd[s], F_SETFL, flags | O_NONBLOCK);
    setsockopt(t->fd[s], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  /* 0 (or anything not a positive number of milliseconds) means no idle timeout; a value too
     large for the clock arithmetic is never reached either. */
  t->idle_ms = idle > 0 && idle < 9.0e15 ? (idle < 1 ? 1 : (int64_t)idle) : 0;
  pthread_mutex_lock(&E.lock);
  double id = E.next_id++;
  t->id = id;
  t->next = E.adds;
  E.adds = t;
  pthread_mutex_unlock(&E.lock);
  /* From here the relay thread owns t (it may already have ended and freed it): use the copy. */
  wake();
  CHECK(napi_create_double(env, id, &result));
  return result;
}

/* abort(id) or abort() for every tunnel */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started) return NULL;
  double id = 0;
  int all = argc < 1 || napi_get_value_double(env, argv[0], &id) != napi_ok;
  pthread_mutex_lock(&E.lock);
  if (all) E.abort_all = 1;
  else {
    if (E.aborts_len == E.aborts_cap) {
      size_t cap = E.aborts_cap ? E.aborts_cap * 2 : 64;
      double *grown = realloc(E.aborts, cap * sizeof(double));
      if (grown == NULL) abort();
      E.aborts = grown;
      E.aborts_cap = cap;
    }
    E.aborts[E.aborts_len++] = id;
  }
  pthread_mutex_unlock(&E.lock);
  wake();
  return NULL;
}

/* ref(true|false): keep the event loop alive while tunnels are in the relay */
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started) return NULL;
  napi_get_value_bool(env, argv[0], &on);
  if (on) napi_ref_threadsafe_function(env, E.tsfn);
  else napi_unref_threadsafe_function(env, E.tsfn);
  return NULL;
}

/*
 * listen(address, port, ipv6Only, backlog, listen, reusePort) -> fd: a TCP socket with
 * SO_REUSEADDR (and SO_REUSEPORT when reusePort) bound to address:port, listening when `listen`
 * is true (a socket only bound holds the port for the group without taking connections).
 * Throws with the errno name as code.
 */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], result;
  char host[64];
  size_t host_len;
  int32_t port, backlog;
  bool v6only = false, do_listen = true, reuse_port = true;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_get_value_bool(env, argv[2], &v6only) != napi_ok ||
      napi_get_value_int32(env, argv[3], &backlog) != napi_ok ||
      napi_get_value_bool(env, argv[4], &do_listen) != napi_ok ||
      (argc >= 6 && napi_get_value_bool(env, argv[5], &reuse_port) != napi_ok) || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "airlock native: listen(address, port, ipv6Only, backlog, listen, reusePort)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  int family;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    family = AF_INET;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    len = sizeof *in4;
  } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    family = AF_INET6;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof *in6;
  } else {
    napi_throw_type_error(env, NULL, "airlock native: listen address is not an IP address");
    return NULL;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1, err = 0;
  if (fd < 0) err = errno;
  else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
           (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0))
    err = errno;
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){v6only ? 1 : 0}, sizeof(int)) != 0)
    err = errno;
  else if (bind(fd, (struct sockaddr *)&ss, len) != 0)
    err = errno;
  else if (do_listen && listen(fd, backlog) != 0)
    err = errno;
  if (err != 0) {
    if (fd >= 0) close(fd);
    const char *code = err == EADDRINUSE ? "EADDRINUSE"
                       : err == EACCES ? "EACCES"
                       : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL"
                                              : "ESOCKET";
    napi_throw_error(env, code, strerror(err));
    return NULL;
  }
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

/* boundPort(fd) -> the port the socket is bound to (for port 0) */
static napi_value js_bound_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  CHECK(napi_create_int32(env, port, &result));
  return result;
}

/* closeFd(fd) */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"add", NULL, js_add, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"boundPort", NULL, js_bound_port, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
