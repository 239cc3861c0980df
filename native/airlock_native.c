/*
 * Airlock native engine: one thread (epoll, edge-triggered, one shared read buffer) that moves
 * the bytes of established CONNECT tunnels between two TCP sockets, and can also do the
 * mechanical part of a CONNECT before that (the "front"): accept, read the request head, connect
 * to the address JavaScript chose, answer 200, and hand the first client bytes to JavaScript for
 * the ClientHello check. It opens listening sockets with SO_REUSEPORT so that worker processes
 * accept on their own without a hand-off.
 *
 * Every decision stays in JavaScript: the front never parses HTTP (it only finds where a head
 * ends, and whether it starts with "CONNECT "), never chooses an address, never judges a
 * ClientHello. A connection that is not a CONNECT is handed to JavaScript as a descriptor with
 * the bytes read so far. Decisions travel as commands (JavaScript to this thread) and events
 * (this thread to JavaScript), both batched.
 *
 * Per tunnel this costs one small struct; a direction that cannot write everything keeps the
 * rest in a buffer (or pipe) of its own and stops reading until the peer drains it, so memory
 * stays bounded and backpressure holds. A direction's first 64 KiB are copied through the
 * shared buffer (recv/send); a bulk transfer past that moves by splice(2) through a pipe the
 * direction borrows only while it has bytes in flight, with no copy through this process (or by
 * recv/send where the kernel refuses splice on a socket).
 *
 * Linux only (epoll, eventfd, SO_REUSEPORT).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "front_scan.h"

#define READ_SIZE (256 * 1024)
#define EVENTS_PER_WAIT 512
/* Reads per direction per wake-up before other tunnels get a turn. */
#define READS_PER_TURN 8

/*
 * How a tunnel ended, and the front's events: numbered once here, and published to JavaScript
 * as `contract` (see init), which refuses a build whose numbers differ from its own.
 */
#define END_REASONS(X)                                                                        \
  X(END_CLOSED, 0, "closed")                                                                  \
  X(END_CLIENT_ERROR, 1, "client_error")                                                      \
  X(END_UPSTREAM_ERROR, 2, "upstream_error")                                                  \
  X(END_IDLE, 3, "idle")                                                                      \
  X(END_ABORTED, 4, "aborted")                                                                \
  /* front only */                                                                            \
  X(END_CLIENT_GONE, 5, "client_gone")   /* the client left before the tunnel was up */      \
  X(END_PEEK_TIMEOUT, 6, "peek_timeout")                                                      \
  X(END_CUT, 7, "cut")                   /* JavaScript refused the ClientHello */             \
  X(END_RESPONDED, 8, "responded")       /* a refusal was written and the connection closed */

#define AS_ENUM(name, value, text) name = value,
#define AS_TEXT(name, value, text) " " text "=" #value
enum end_reason { END_REASONS(AS_ENUM) };

/* Where a front connection is; relayed tunnels are ST_RELAY from the start. */
enum state { ST_RELAY = 0, ST_HEAD, ST_DECIDE, ST_CONNECT, ST_PEEK, ST_RESPOND };

/* Front events (this thread to JavaScript). */
#define EVENT_KINDS(X)                                                                        \
  X(EV_HEAD, 1, "head")                                                                       \
  X(EV_ADOPT, 2, "adopt")                                                                     \
  X(EV_CONNECTED, 3, "connected")                                                             \
  X(EV_CONNECT_FAILED, 4, "connect_failed")                                                   \
  X(EV_PEEK, 5, "peek")                                                                       \
  X(EV_ACCEPT, 6, "accept")                                                                   \
  X(EV_HELLO_PASSED, 7, "hello_passed") /* the front passed the ClientHello: it named the host */ \
  X(EV_GRANT_GONE, 8, "grant_gone")     /* a repeat grant expired or was revoked unused */

enum event_kind { EVENT_KINDS(AS_ENUM) };

/* "ends closed=0 client_error=1 …; events head=1 …": what JavaScript checks at load. */
static const char CONTRACT[] = "ends" END_REASONS(AS_TEXT) "; events" EVENT_KINDS(AS_TEXT) "; stats 6";

/* Front commands (JavaScript to this thread). */
enum cmd_kind { CMD_LISTEN = 1, CMD_UNLISTEN, CMD_CONNECT, CMD_RESPOND, CMD_VERDICT, CMD_GRANT, CMD_REVOKE };

#define MAX_LISTENERS 16
/* Largest ClientHello the front collects for JavaScript: 16 KiB of handshake in up to 64 records. */
#define PEEK_MAX (16384 + 64 * 5)
#define ACCEPTS_PER_TURN 64
/* Seconds a silent new connection may wait in the kernel for its first bytes (TCP_DEFER_ACCEPT). */
#define DEFER_ACCEPT_S 1

typedef struct {
  char *pending;      /* bytes read from the source that the destination has not taken yet */
  uint32_t pending_len;
  uint32_t pending_off;
  uint8_t eof;        /* the source sent FIN */
  uint8_t shut;       /* FIN passed on to the destination */
  uint8_t again;      /* on the run-again list */
  uint8_t has_pipe;   /* pipe[] is a pipe borrowed from the pool (while bytes are in flight) */
  uint32_t in_pipe;   /* bytes spliced from the source that the destination has not taken yet */
  int pipe[2];        /* [0] read end, [1] write end; valid only with has_pipe */
  uint32_t pipe_cap;  /* what that pipe holds (bytes one splice asks for) */
  uint64_t bytes;     /* bytes written to the destination */
} direction_t;

typedef struct tunnel {
  double id;
  int fd[2];          /* 0 = client, 1 = upstream (-1 until the front connects) */
  direction_t d[2];   /* d[0]: client -> upstream, d[1]: upstream -> client */
  int64_t last_active;
  int64_t idle_ms;
  int64_t deadline;   /* front states: when the current wait ends (0: none) */
  int64_t started;    /* front: when the connect began */
  int64_t connected_at; /* front: when the connect finished (while its event waits for the peek) */
  uint32_t connect_ms;
  uint8_t connected_due; /* front: EV_CONNECTED not sent yet; it goes with the first peeked bytes */
  uint8_t own_fds;    /* front: both descriptors were opened here and never duplicated */
  uint32_t live_index;
  uint8_t closed;
  uint8_t state;
  uint8_t peek;       /* front: after the 200, collect the ClientHello for JavaScript */
  uint8_t unread;     /* front: an input edge came after the head was read (bytes or a FIN wait) */
  uint8_t listener;
  int32_t error;
  char *head;         /* front: the request head as read, then the ClientHello bytes */
  char *expect;       /* front, while peeking: the CONNECT host a ClientHello may name to pass here */
  uint32_t expect_len;
  uint32_t head_len, head_cap;
  struct tunnel *next;  /* add queue, then free list */
  struct tunnel *hnext; /* id table chain */
} tunnel_t;

typedef struct event {
  int kind;
  double id;
  double a, b;
  char *data;
  uint32_t len;
  char addr[INET6_ADDRSTRLEN];
} event_t;

typedef struct cmd {
  int kind;
  double id;
  int32_t a, b, c, e;
  double idle;
  char *data;
  uint32_t len;
  char addr[INET6_ADDRSTRLEN];
  /* CMD_GRANT only: the client, the request head, and how long the grant holds. */
  char client[INET6_ADDRSTRLEN];
  char *head;
  uint32_t head_len;
  int32_t ttl_ms;
  uint64_t epoch;
  struct cmd *next;
} cmd_t;

typedef struct {
  int fd;               /* -1: slot unused */
  int64_t max_head;
  int64_t head_timeout;
  int64_t retry_at;     /* out of descriptors: accepting resumes then */
  int nodelay;          /* accepted sockets inherit TCP_NODELAY from the listener */
} listener_t;

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
  event_t *events;
  size_t events_len, events_cap;
  int notified; /* a wake-up of JavaScript is on its way: it will take what is queued */
  cmd_t *cmds;
  double next_id;
  /* engine thread only */
  tunnel_t **live;
  size_t live_len, live_cap;
  tunnel_t *to_free;
  char *buf;
  int64_t last_scan;
  tunnel_t **table; /* id -> tunnel, chained */
  size_t table_cap, table_len;
  listener_t listeners[MAX_LISTENERS];
  int front_waits;  /* front tunnels with a deadline: scan often while there are any */
} E;

/*
 * Waking JavaScript. It is woken at most once per turn of this thread, at the turn's end, so that
 * what one turn produces reaches it as one batch. Only what a client is waiting on wakes it at
 * once ("urgent": a head to decide, a connection to adopt, a failed connect, ClientHello bytes to
 * judge). What only informs it (an accept, a connect or a ClientHello the front passed, a tunnel's
 * end) waits for the next urgent event or LAZY_US, whichever comes first: at low concurrency the
 * end of one tunnel and the accept of the next then arrive together with the next head, one
 * wake-up of the JavaScript thread per tunnel instead of three or four. Admission counts a
 * connection that ended at most this much longer.
 */
#define LAZY_US 1000
/* The queue is unbounded (max_queue_size 0): a failure means the environment is going away. */
static int notify_js(void) {
  return napi_call_threadsafe_function(E.tsfn, NULL, napi_tsfn_nonblocking) == napi_ok;
}

/* Engine thread only: an urgent event was queued in this turn. */
static int notify_due;
/* Engine thread only: when the oldest event queued without a wake-up was queued (0: none). */
static int64_t lazy_since;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_us(void) { return now_ns() / 1000; }

static void due(int urgent) {
  if (urgent) notify_due = 1;
  else if (lazy_since == 0) lazy_since = now_us();
}

/* End of a turn: wake JavaScript if something urgent was queued or a lazy event has waited long
   enough, unless a wake-up is already on its way (JavaScript takes everything queued by then). */
static void maybe_notify(void) {
  if (!notify_due && (lazy_since == 0 || now_us() - lazy_since < LAZY_US)) return;
  notify_due = 0;
  lazy_since = 0;
  pthread_mutex_lock(&E.lock);
  int wake = !E.notified && (E.events_len > 0 || E.done_len > 0);
  if (wake) E.notified = 1;
  pthread_mutex_unlock(&E.lock);
  if (wake && !notify_js()) {
    /* Not queued: let a later turn try again rather than wait for a wake-up that never comes. */
    pthread_mutex_lock(&E.lock);
    E.notified = 0;
    pthread_mutex_unlock(&E.lock);
  }
}

/* ---- id table (engine thread only) ---- */

static size_t slot_of(double id) {
  uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
  return (size_t)(x >> 20) & (E.table_cap - 1);
}

static void table_put(tunnel_t *t) {
  if (E.table_len + 1 > E.table_cap) {
    size_t cap = E.table_cap ? E.table_cap * 2 : 1024;
    tunnel_t **grown = calloc(cap, sizeof(tunnel_t *));
    if (grown == NULL) abort();
    size_t old = E.table_cap;
    tunnel_t **prev = E.table;
    E.table = grown;
    E.table_cap = cap;
    for (size_t i = 0; i < old; i++) {
      for (tunnel_t *u = prev[i]; u != NULL;) {
        tunnel_t *next = u->hnext;
        size_t k = slot_of(u->id);
        u->hnext = E.table[k];
        E.table[k] = u;
        u = next;
      }
    }
    free(prev);
  }
  size_t k = slot_of(t->id);
  t->hnext = E.table[k];
  E.table[k] = t;
  E.table_len++;
}

static tunnel_t *table_get(double id) {
  if (E.table_cap == 0) return NULL;
  for (tunnel_t *t = E.table[slot_of(id)]; t != NULL; t = t->hnext)
    if (t->id == id) return t;
  return NULL;
}

static void table_del(tunnel_t *t) {
  tunnel_t **at = &E.table[slot_of(t->id)];
  while (*at != NULL && *at != t) at = &(*at)->hnext;
  if (*at == t) {
    *at = t->hnext;
    E.table_len--;
  }
}

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
  E.done[E.done_len++] = (done_t){t->id, (double)t->d[0].bytes, (double)t->d[1].bytes, reason, t->error};
  pthread_mutex_unlock(&E.lock);
  due(0);
}

/* A copy of `len` (> 0) bytes in memory of its own; out of memory ends the process, as anywhere here. */
static char *copy_of(const void *bytes, size_t len) {
  char *copy = malloc(len);
  if (copy == NULL) abort();
  memcpy(copy, bytes, len);
  return copy;
}

/* Queues a front event for JavaScript (of tunnel `t`, or of none: id 0); `data` is copied.
   `urgent`: JavaScript is woken for it at the end of this turn (see maybe_notify). */
static void queue_event(int kind, tunnel_t *t, double a, double b, const char *data, size_t len, const char *addr,
                        int urgent) {
  char *copy = len > 0 ? copy_of(data, len) : NULL;
  pthread_mutex_lock(&E.lock);
  if (E.events_len == E.events_cap) {
    size_t cap = E.events_cap ? E.events_cap * 2 : 256;
    event_t *grown = realloc(E.events, cap * sizeof(event_t));
    if (grown == NULL) abort();
    E.events = grown;
    E.events_cap = cap;
  }
  event_t *ev = &E.events[E.events_len++];
  ev->kind = kind;
  ev->id = t != NULL ? t->id : 0;
  ev->a = a;
  ev->b = b;
  ev->data = copy;
  ev->len = (uint32_t)len;
  ev->addr[0] = 0;
  if (addr != NULL) {
    strncpy(ev->addr, addr, sizeof ev->addr - 1);
    ev->addr[sizeof ev->addr - 1] = 0;
  }
  pthread_mutex_unlock(&E.lock);
  due(urgent);
}

/* A front event that is urgent when a client waits on JavaScript's answer to it. */
static void push_event(int kind, tunnel_t *t, double a, double b, const char *data, size_t len, const char *addr) {
  queue_event(kind, t, a, b, data, len, addr,
              kind == EV_HEAD || kind == EV_ADOPT || kind == EV_CONNECT_FAILED || kind == EV_PEEK);
}

/* A connect whose event was held back for the peek is reported now (before any later event of
   the tunnel): with the connect time, and how long ago it finished. */
static void flush_connected(tunnel_t *t) {
  if (!t->connected_due) return;
  t->connected_due = 0;
  push_event(EV_CONNECTED, t, (double)t->connect_ms, (double)(now_ms() - t->connected_at), NULL, 0, NULL);
}

static void set_deadline(tunnel_t *t, int64_t at) {
  if (t->deadline == 0 && at != 0) E.front_waits++;
  if (t->deadline != 0 && at == 0) E.front_waits--;
  t->deadline = at;
}

/* An abortive close (RST) of `fd`, to pass on a reset from the other side. */
static void reset_close(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static void drop_expect(tunnel_t *t) {
  free(t->expect);
  t->expect = NULL;
  t->expect_len = 0;
}

/* ---- splice (engine thread only, but for relay_copy) ---- */

/*
 * Pipes for splice(2). A direction splices once it has moved SPLICE_AFTER bytes (a bulk
 * transfer; the few small messages of most tunnels are cheaper to copy), takes a pipe when it
 * reads and gives it back as soon as its destination has taken every byte, so an idle tunnel
 * holds none; a pool that no transfer used for a second is closed. At most PIPES_MAX pipes are
 * open at once (in use or pooled): the descriptors they take are reserved in admission's budget
 * (RELAY_PIPES_MAX in src/gateway/native.ts); past it a direction copies. A pipe that still
 * holds bytes when its tunnel ends is closed, never pooled.
 */
#define PIPES_MAX 32
#define PIPE_POOL_MAX 8
#define SPLICE_AFTER (64 * 1024)
static struct {
  int fd[2];
  uint32_t cap;
} pipe_pool[PIPE_POOL_MAX];
static int pipe_pool_len;
/* Written by this thread, read by JavaScript (relayStats): atomic. */
static int pipes_open;
static uint64_t spliced_bytes, copied_bytes;
/* A pipe was taken since the last idle scan: the pool is in use and stays. */
static int pipes_taken;
/* 0 once the kernel refused splice on a socket (or a test forced copying): recv/send from then on. */
static int splice_ok = 1;
/* Set by JavaScript (tests): copy through the shared buffer as where splice is unavailable. */
static int relay_copy;

static int use_splice(const direction_t *d) {
  return d->bytes >= SPLICE_AFTER && splice_ok && !__atomic_load_n(&relay_copy, __ATOMIC_RELAXED);
}

static int pipe_take(direction_t *d) {
  pipes_taken = 1;
  if (pipe_pool_len > 0) {
    pipe_pool_len--;
    d->pipe[0] = pipe_pool[pipe_pool_len].fd[0];
    d->pipe[1] = pipe_pool[pipe_pool_len].fd[1];
    d->pipe_cap = pipe_pool[pipe_pool_len].cap;
  } else {
    if (pipes_open >= PIPES_MAX || pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) != 0) return 0;
    __atomic_add_fetch(&pipes_open, 1, __ATOMIC_RELAXED);
    /* Larger pipes mean fewer system calls per megabyte; where the kernel refuses, what it has. */
    fcntl(d->pipe[1], F_SETPIPE_SZ, READ_SIZE);
    int size = fcntl(d->pipe[1], F_GETPIPE_SZ);
    if (size <= 0) {
      close(d->pipe[0]);
      close(d->pipe[1]);
      __atomic_sub_fetch(&pipes_open, 1, __ATOMIC_RELAXED);
      return 0;
    }
    d->pipe_cap = (uint32_t)size;
  }
  d->has_pipe = 1;
  d->in_pipe = 0;
  return 1;
}

/* Back to the pool when empty; closed when it still holds bytes (its tunnel ended) or the pool is full. */
static void pipe_give(direction_t *d) {
  if (!d->has_pipe) return;
  d->has_pipe = 0;
  if (d->in_pipe == 0 && pipe_pool_len < PIPE_POOL_MAX) {
    pipe_pool[pipe_pool_len].fd[0] = d->pipe[0];
    pipe_pool[pipe_pool_len].fd[1] = d->pipe[1];
    pipe_pool[pipe_pool_len].cap = d->pipe_cap;
    pipe_pool_len++;
  } else {
    close(d->pipe[0]);
    close(d->pipe[1]);
    __atomic_sub_fetch(&pipes_open, 1, __ATOMIC_RELAXED);
  }
  d->in_pipe = 0;
}

/* Once a second: a pool no transfer used since the last time is closed (an idle relay holds no pipe). */
static void pipes_trim(void) {
  if (!pipes_taken) {
    while (pipe_pool_len > 0) {
      pipe_pool_len--;
      close(pipe_pool[pipe_pool_len].fd[0]);
      close(pipe_pool[pipe_pool_len].fd[1]);
      __atomic_sub_fetch(&pipes_open, 1, __ATOMIC_RELAXED);
    }
  }
  pipes_taken = 0;
}

/* Bytes of direction k not yet written to its destination (in its buffer or its pipe). */
static int holding(const direction_t *d) { return d->pending != NULL || d->in_pipe != 0; }

static void end_tunnel(tunnel_t *t, int reason) {
  if (t->closed) return;
  t->closed = 1;
  set_deadline(t, 0);
  /* A reset is passed on as a reset: the peer of the side that reset gets an RST too. */
  if (t->error == ECONNRESET && (reason == END_CLIENT_ERROR || reason == END_UPSTREAM_ERROR)) {
    int other = reason == END_CLIENT_ERROR ? 1 : 0;
    if (t->fd[other] >= 0) reset_close(t->fd[other]);
  }
  for (int s = 0; s < 2; s++) {
    if (t->fd[s] >= 0) {
      /* Closing the only descriptor of a socket takes it out of epoll; a tunnel JavaScript handed
         over holds duplicates (JavaScript may still have the original open), so it asks. */
      if (!t->own_fds) epoll_ctl(E.epfd, EPOLL_CTL_DEL, t->fd[s], NULL);
      close(t->fd[s]);
      t->fd[s] = -1;
    }
    free(t->d[s].pending);
    t->d[s].pending = NULL;
    pipe_give(&t->d[s]);
  }
  free(t->head);
  t->head = NULL;
  drop_expect(t);
  table_del(t);
  flush_connected(t);
  int reported = 1;
  /* swap-remove from the live list */
  tunnel_t *last = E.live[--E.live_len];
  E.live[t->live_index] = last;
  last->live_index = t->live_index;
  if (reported) push_done(t, reason);
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
  if (!d->eof || d->shut || holding(d)) return;
  d->shut = 1;
  /* The other way is over too: closing sends this FIN (that side ended, so nothing unread is
     left to turn it into a reset), one call fewer. Only descriptors of our own: a duplicate's
     close sends nothing while JavaScript holds the original. */
  if (t->own_fds && t->d[1 - k].shut) {
    end_tunnel(t, END_CLOSED);
    return;
  }
  if (shutdown(t->fd[1 - k], SHUT_WR) != 0 && errno != ENOTCONN) {
    fail(t, 1 - k, errno);
    return;
  }
  check_done(t);
}

/*
 * Splices what direction k's pipe holds to the destination; returns 1 when the pipe is empty
 * (and given back), 0 when the destination is full or failed. The process ignores SIGPIPE (as
 * Node.js does), so a destination that went away fails here with EPIPE like send's MSG_NOSIGNAL.
 */
static int drain_pipe(tunnel_t *t, int k) {
  direction_t *d = &t->d[k];
  while (d->in_pipe > 0) {
    ssize_t w = splice(d->pipe[0], NULL, t->fd[1 - k], NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (w > 0) {
      d->bytes += (uint64_t)w;
      __atomic_add_fetch(&spliced_bytes, (uint64_t)w, __ATOMIC_RELAXED);
      d->in_pipe -= (uint32_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    fail(t, 1 - k, w < 0 ? errno : EPIPE);
    return 0;
  }
  pipe_give(d);
  return 1;
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
    __atomic_add_fetch(&copied_bytes, (uint64_t)w, __ATOMIC_RELAXED);
    d->pending_off += (uint32_t)w;
    if (d->pending_off == d->pending_len) {
      free(d->pending);
      d->pending = NULL;
      d->pending_len = d->pending_off = 0;
    }
  }
  return d->in_pipe == 0 || drain_pipe(t, k);
}

static void keep(direction_t *d, const char *bytes, size_t len) {
  d->pending = copy_of(bytes, len);
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

/*
 * Reads from the source of direction k and writes to its destination until EAGAIN, EOF or a full
 * peer. With `short_stop` (an input event without a hang-up) a read shorter than the buffer ends
 * the turn: it emptied the receive queue, and anything arriving later raises a new edge, so the
 * recv that would only return EAGAIN is saved. A hang-up is always read to the end (its FIN may
 * sit behind the data, and no further edge would announce it).
 */
static void pump_copy(tunnel_t *t, int k, int short_stop, int turn);

/* pump_turn through the direction's pipe: splice in, splice out, nothing copied here. */
static void pump_turn(tunnel_t *t, int k, int short_stop) {
  direction_t *d = &t->d[k];
  int src = t->fd[k];
  for (int turn = 0; turn < READS_PER_TURN; turn++) {
    if (t->closed || d->eof || holding(d)) return;
    if (!use_splice(d) || (!d->has_pipe && !pipe_take(d))) {
      /* Not a bulk transfer yet, no splice here, or no pipe free: this turn copies. */
      pump_copy(t, k, short_stop, turn);
      return;
    }
    /* No short stop here: a splice also ends early when the pipe runs out of slots (one per
       piece of socket data), with more still queued and no further edge to announce it. */
    ssize_t n = splice(src, NULL, d->pipe[1], NULL, d->pipe_cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      t->last_active = now_ms();
      d->in_pipe = (uint32_t)n;
      /* The peer is full (or failed): the rest waits in the pipe until EPOLLOUT. */
      if (!drain_pipe(t, k)) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    pipe_give(d);
    if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM || errno == EOPNOTSUPP)) {
      /* This kernel (or a sandbox) refuses splice on these sockets: copy from now on. */
      splice_ok = 0;
      pump_copy(t, k, short_stop, turn);
      return;
    }
    if (n < 0 && errno == ENOMEM) {
      pump_copy(t, k, short_stop, turn);
      return;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(t, k, errno);
      return;
    }
    /* Nothing spliced. Splice stops at TCP urgent data, answering EAGAIN (or 0 once a FIN is
       queued) with bytes still behind it; recv passes over the urgent byte, as the copying relay
       always did. Anywhere else the queue was empty (bytes arriving later raise a new edge) or
       the source has ended. */
    int at_mark = 0;
    if (ioctl(src, SIOCATMARK, &at_mark) == 0 && at_mark) {
      pump_copy(t, k, 0, turn);
      return;
    }
    if (n == 0) {
      d->eof = 1;
      maybe_shut(t, k);
    }
    return;
  }
  pipe_give(d);
  queue_again(t, k);
}

static void pump_copy(tunnel_t *t, int k, int short_stop, int turn) {
  direction_t *d = &t->d[k];
  int src = t->fd[k], dst = t->fd[1 - k];
  for (; turn < READS_PER_TURN; turn++) {
    if (t->closed || d->eof || holding(d)) return;
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
      __atomic_add_fetch(&copied_bytes, (uint64_t)w, __ATOMIC_RELAXED);
      if (w < n) {
        /* The peer is full: keep the rest and stop reading until it drains (EPOLLOUT). */
        keep(d, E.buf + w, (size_t)(n - w));
        return;
      }
      if (short_stop && n < READ_SIZE) return;
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

static void pump(tunnel_t *t, int k) { pump_turn(t, k, 0); }

static void relay_event(tunnel_t *t, int side, uint32_t events) {
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
    if (holding(&t->d[k]) && flush(t, k)) {
      maybe_shut(t, k);
      pump(t, k);
    }
  }
  if (events & (EPOLLRDHUP | EPOLLHUP)) pump(t, side);
  else if (events & EPOLLIN) pump_turn(t, side, 1);
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

static int watch(tunnel_t *t, int side, int op) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                           .data.u64 = (uint64_t)(uintptr_t)t | (uint64_t)side};
  return epoll_ctl(E.epfd, op, t->fd[side], &ev);
}

/* Both descriptors are watched: write what is pending, then move what waits in the kernel. */
/*
 * Starts relaying. `client_drained`: the client's receive queue was emptied by a short read on an
 * input event without a hang-up (see pump_copy), so reading it again now would only answer EAGAIN.
 */
static void run_relay(tunnel_t *t, int client_drained) {
  t->state = ST_RELAY;
  set_deadline(t, 0);
  t->last_active = now_ms();
  for (int k = 0; k < 2 && !t->closed; k++) {
    if (holding(&t->d[k]) && flush(t, k)) maybe_shut(t, k);
  }
  for (int k = client_drained ? 1 : 0; k < 2 && !t->closed; k++) pump(t, k);
}

/* A tunnel handed over by JavaScript (both sockets connected, established). */
static void start_tunnel(tunnel_t *t) {
  add_live(t);
  table_put(t);
  for (int s = 0; s < 2; s++) {
    if (watch(t, s, EPOLL_CTL_ADD) != 0) {
      fail(t, s, errno);
      return;
    }
  }
  /* Bytes the JavaScript side had already read go first; then whatever waits in the kernel. */
  run_relay(t, 0);
}

/* ---- the front ---- */

/* The listener tag in epoll data: small even numbers, never a tunnel pointer. */
#define LISTENER_TAG(i) ((uint64_t)(2 + 2 * (i)))
#define IS_LISTENER(data) ((data) >= 2 && (data) < LISTENER_TAG(MAX_LISTENERS))

static void append_head(tunnel_t *t, const char *bytes, size_t n) {
  if (t->head_len + n > t->head_cap) {
    size_t cap = t->head_cap ? t->head_cap : 1024;
    while (cap < t->head_len + n) cap *= 2;
    char *grown = realloc(t->head, cap);
    if (grown == NULL) abort();
    t->head = grown;
    t->head_cap = (uint32_t)cap;
  }
  memcpy(t->head + t->head_len, bytes, n);
  t->head_len += (uint32_t)n;
}

static int may_be_connect(const tunnel_t *t) { return scan_may_be_connect(t->head, t->head_len); }

static int head_complete(const tunnel_t *t) { return scan_head_end(t->head, t->head_len) >= 0; }

/* Gives a connection that is not a CONNECT to JavaScript: its descriptor and the bytes read. */
static void adopt(tunnel_t *t) {
  epoll_ctl(E.epfd, EPOLL_CTL_DEL, t->fd[0], NULL);
  push_event(EV_ADOPT, t, (double)t->fd[0], 65536.0 * t->listener, t->head, t->head_len, NULL);
  t->fd[0] = -1;
  /* Nothing to report later: the connection is JavaScript's now. */
  t->closed = 1;
  set_deadline(t, 0);
  free(t->head);
  t->head = NULL;
  table_del(t);
  tunnel_t *last = E.live[--E.live_len];
  E.live[t->live_index] = last;
  last->live_index = t->live_index;
  t->next = E.to_free;
  E.to_free = t;
}

/* The text form of the peer address accept4 gave. */
static void peer_of(const struct sockaddr_storage *peer, char *addr, size_t size, int *port) {
  const struct sockaddr_storage ss = *peer;
  addr[0] = 0;
  *port = 0;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)size);
    *port = ntohs(in6->sin6_port);
  } else if (ss.ss_family == AF_INET) {
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &in4->sin_addr, addr, (socklen_t)size);
    *port = ntohs(in4->sin_port);
  }
}

static void cmd_connect(tunnel_t *t, cmd_t *c);

/* ---- repeat grants (engine thread only) ----
 *
 * Once JavaScript has decided a CONNECT head and the tunnel is up, it may leave a grant here:
 * the same head, byte for byte, from the same client address on the same listener, before the
 * grant expires, is connected at once with the connect JavaScript chose for it, without the
 * round trip to JavaScript. JavaScript still receives the head (flagged as granted) and keeps
 * the session and its record; it reserved the connection's admission slot when it made the
 * grant. A grant is used once, or reported gone (expired, revoked, its listener closed), so
 * that JavaScript can give that slot back. Nothing is parsed here: the head is compared whole.
 */
#define GRANT_BUCKETS 1024
#define GRANTS_MAX 65536

typedef struct grant {
  struct grant *next;
  int listener;
  char client[INET6_ADDRSTRLEN];
  char *head;
  uint32_t head_len;
  int64_t expires;
  cmd_t connect; /* as a CMD_CONNECT: addr, a = port, b = connect timeout, c = peek, idle, data = pass name */
} grant_t;

static grant_t *grant_table[GRANT_BUCKETS];
static size_t grants_len;
/*
 * Revocations so far: frontRevokeGrants counts one on the JavaScript thread before it returns,
 * so that no head read after a reload is connected on a grant made before it, even while the
 * revoke command waits behind this thread's turn. A grant made before the count changed is
 * never installed; the table is emptied the next time it is consulted.
 */
static uint64_t grant_epoch;
/* Engine thread: the count the table's grants were made under. */
static uint64_t grants_epoch_seen;
static void drop_grants_all(void);

/* Whether a revocation came since the table was last emptied; it is emptied now if so. */
static int grants_revoked(void) {
  uint64_t epoch = __atomic_load_n(&grant_epoch, __ATOMIC_ACQUIRE);
  if (epoch == grants_epoch_seen) return 0;
  grants_epoch_seen = epoch;
  drop_grants_all();
  return 1;
}
/* Heads connected on a grant since the start (read by relayStats from the JavaScript thread). */
static uint64_t grants_used;

static void drop_grants(int listener, int64_t by);
static void drop_grants_all(void) { drop_grants(-1, INT64_MAX); }

static size_t grant_bucket(int listener, const char *client) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)listener;
  for (const char *p = client; *p != 0; p++) {
    h ^= (uint8_t)*p;
    h *= 1099511628211ULL;
  }
  return (size_t)(h & (GRANT_BUCKETS - 1));
}

static void grant_free(grant_t *g) {
  free(g->head);
  free(g->connect.data);
  free(g);
  grants_len--;
}

/* An unused grant leaves: JavaScript gives back the slot it reserved. */
static void grant_gone(grant_t *g) {
  push_event(EV_GRANT_GONE, NULL, g->listener, 0, NULL, 0, g->client);
  grant_free(g);
}

/* Drops the grants of `listener` (-1: of every listener) that expire by `by` (INT64_MAX: all). */
static void drop_grants(int listener, int64_t by) {
  if (grants_len == 0) return;
  for (size_t i = 0; i < GRANT_BUCKETS; i++) {
    grant_t **p = &grant_table[i];
    while (*p != NULL) {
      grant_t *g = *p;
      if ((listener < 0 || g->listener == listener) && g->expires <= by) {
        *p = g->next;
        grant_gone(g);
      } else {
        p = &g->next;
      }
    }
  }
}

/* Takes over the command's head and pass name. One grant per client and listener: a new one
   replaces the old, which is reported gone. */
static void cmd_grant(cmd_t *c) {
  grant_t *g = calloc(1, sizeof(grant_t));
  if (g == NULL) abort();
  grants_len++;
  g->listener = c->e;
  memcpy(g->client, c->client, sizeof g->client);
  g->client[sizeof g->client - 1] = 0;
  g->head = c->head;
  g->head_len = c->head_len;
  c->head = NULL;
  g->expires = now_ms() + c->ttl_ms;
  g->connect.kind = CMD_CONNECT;
  memcpy(g->connect.addr, c->addr, sizeof g->connect.addr);
  g->connect.a = c->a;
  g->connect.b = c->b;
  g->connect.c = c->c;
  g->connect.idle = c->idle;
  g->connect.data = c->data;
  g->connect.len = c->len;
  c->data = NULL;
  if (grants_revoked() || c->epoch != grants_epoch_seen || c->e < 0 || c->e >= MAX_LISTENERS ||
      E.listeners[c->e].fd < 0 || grants_len > GRANTS_MAX || g->head_len == 0) {
    grant_gone(g);
    return;
  }
  grant_t **p = &grant_table[grant_bucket(g->listener, g->client)];
  for (; *p != NULL; p = &(*p)->next) {
    grant_t *old = *p;
    if (old->listener == g->listener && strcmp(old->client, g->client) == 0) {
      *p = old->next;
      grant_gone(old);
      break;
    }
  }
  g->next = grant_table[grant_bucket(g->listener, g->client)];
  grant_table[grant_bucket(g->listener, g->client)] = g;
}

/* The grant for this tunnel's client and listener if its head (the first `head_len` bytes read)
   is the granted one and the grant still holds; taken out of the table. */
static grant_t *take_grant(tunnel_t *t, uint32_t head_len) {
  if (grants_revoked()) return NULL;
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof peer;
  peer.ss_family = AF_UNSPEC;
  if (getpeername(t->fd[0], (struct sockaddr *)&peer, &peer_len) != 0) return NULL;
  char addr[INET6_ADDRSTRLEN];
  int port;
  peer_of(&peer, addr, sizeof addr, &port);
  for (grant_t **p = &grant_table[grant_bucket(t->listener, addr)]; *p != NULL; p = &(*p)->next) {
    grant_t *g = *p;
    if (g->listener != t->listener || strcmp(g->client, addr) != 0) continue;
    if (g->expires <= now_ms()) {
      *p = g->next;
      grant_gone(g);
      return NULL;
    }
    if (g->head_len != head_len || memcmp(g->head, t->head, head_len) != 0) return NULL;
    *p = g->next;
    return g;
  }
  return NULL;
}

/* The head is complete, too large, or out of time: JavaScript decides what it was, unless a
   grant decided it already (JavaScript is told, and keeps the record). */
static void head_to_js(tunnel_t *t, double timed_out) {
  t->state = ST_DECIDE;
  set_deadline(t, 0);
  int64_t end = scan_head_end(t->head, t->head_len);
  grant_t *g = timed_out == 0 && end > 0 && grants_len > 0 ? take_grant(t, (uint32_t)end) : NULL;
  /* A granted head waits for nothing from JavaScript: it goes with the next batch (lazily). */
  queue_event(EV_HEAD, t, 65536.0 * t->listener, g != NULL ? 2 : timed_out, t->head, t->head_len, NULL, g == NULL);
  /* Keep only what came after the head (early tunnel bytes): they go upstream first. */
  uint32_t used = end < 0 ? t->head_len : (uint32_t)end;
  memmove(t->head, t->head + used, t->head_len - used);
  t->head_len -= used;
  if (g != NULL) {
    __atomic_add_fetch(&grants_used, 1, __ATOMIC_RELAXED);
    cmd_connect(t, &g->connect);
    grant_free(g);
  }
}

static void read_head(tunnel_t *t) {
  listener_t *l = &E.listeners[t->listener];
  for (;;) {
    ssize_t n = recv(t->fd[0], E.buf, READ_SIZE, 0);
    if (n > 0) {
      append_head(t, E.buf, (size_t)n);
      if (!may_be_connect(t)) {
        adopt(t);
        return;
      }
      if (head_complete(t) || (int64_t)t->head_len > l->max_head) {
        /* A full read may have left more behind, with no edge to come for it. */
        if (n == READ_SIZE) t->unread = 1;
        head_to_js(t, 0);
        return;
      }
      continue;
    }
    if (n == 0) {
      end_tunnel(t, END_CLIENT_GONE);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    end_tunnel(t, END_CLIENT_GONE);
    return;
  }
}

static void accept_on(int index) {
  listener_t *l = &E.listeners[index];
  for (int i = 0; i < ACCEPTS_PER_TURN && l->fd >= 0; i++) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    peer.ss_family = AF_UNSPEC;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors: stop accepting for a moment instead of spinning on the listener. */
        struct epoll_event ev = {.events = 0, .data.u64 = LISTENER_TAG(index)};
        epoll_ctl(E.epfd, EPOLL_CTL_MOD, l->fd, &ev);
        l->retry_at = now_ms() + 100;
      }
      return;
    }
    if (!l->nodelay) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    tunnel_t *t = calloc(1, sizeof(tunnel_t));
    if (t == NULL) abort();
    pthread_mutex_lock(&E.lock);
    t->id = E.next_id++;
    pthread_mutex_unlock(&E.lock);
    t->fd[0] = fd;
    t->fd[1] = -1;
    t->own_fds = 1;
    t->state = ST_HEAD;
    t->listener = (uint8_t)index;
    add_live(t);
    table_put(t);
    set_deadline(t, now_ms() + l->head_timeout);
    /* JavaScript admits (or refuses) every connection at once, while the head is being read. */
    char addr[INET6_ADDRSTRLEN];
    int port;
    peer_of(&peer, addr, sizeof addr, &port);
    push_event(EV_ACCEPT, t, port + 65536.0 * index, 0, NULL, 0, addr);
    if (watch(t, 0, EPOLL_CTL_ADD) != 0) {
      end_tunnel(t, END_CLIENT_GONE);
      continue;
    }
    read_head(t);
  }
}

/* What the client sent after its head (and, when peeking, its ClientHello) goes upstream first. */
static void take_early(tunnel_t *t) {
  if (t->head_len > 0) {
    t->d[0].pending = t->head;
    t->d[0].pending_len = t->head_len;
    t->d[0].pending_off = 0;
    t->head = NULL;
    t->head_len = t->head_cap = 0;
  }
}

static void read_peek(tunnel_t *t, int short_stop);

/* The upstream connect finished (or failed). */
static void connected(tunnel_t *t, uint32_t events) {
  int err = 0;
  /* A connecting TCP socket is never writable: writable without an error or a hang-up is up,
     with no need to ask. Anything else asks what happened. */
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != EPOLLOUT) {
    socklen_t len = sizeof err;
    if (getsockopt(t->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == EINPROGRESS) return;
  }
  if (err != 0) {
    epoll_ctl(E.epfd, EPOLL_CTL_DEL, t->fd[1], NULL);
    close(t->fd[1]);
    t->fd[1] = -1;
    t->state = ST_DECIDE;
    set_deadline(t, 0);
    push_event(EV_CONNECT_FAILED, t, err, 0, NULL, 0, NULL);
    return;
  }
  int one = 1;
  setsockopt(t->fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  static const char established[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
  ssize_t w = send(t->fd[0], established, sizeof established - 1, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    end_tunnel(t, END_CLIENT_GONE);
    return;
  }
  if (w < (ssize_t)(sizeof established - 1)) keep(&t->d[1], established + (w < 0 ? 0 : w), sizeof established - 1 - (size_t)(w < 0 ? 0 : w));
  int64_t now = now_ms();
  if (!t->peek) {
    push_event(EV_CONNECTED, t, (double)(now - t->started), 0, NULL, 0, NULL);
    take_early(t);
    run_relay(t, !t->unread);
    return;
  }
  if (t->head_len > 0) {
    /* Bytes came after the head (a ClientHello sent early): JavaScript judges them at once. */
    drop_expect(t);
    push_event(EV_CONNECTED, t, (double)(now - t->started), 0, NULL, 0, NULL);
  } else {
    /* JavaScript has nothing to do until the ClientHello arrives: the connect is reported with
       the first peeked bytes (one wake-up instead of two), or when the tunnel ends before them. */
    t->connected_due = 1;
    t->connected_at = now;
    t->connect_ms = (uint32_t)(now - t->started);
  }
  t->state = ST_PEEK;
  set_deadline(t, now_ms() + E.listeners[t->listener].head_timeout);
  /* Bytes (or a FIN) that arrived while deciding and connecting raised their edge then: read
     them now, to the end. Without such an edge the queue is as the head read left it, empty,
     and the next bytes raise an edge of their own. */
  if (t->unread) read_peek(t, 0);
}

static void pass_hello(tunnel_t *t, int client_drained);

/*
 * Whether the ClientHello collected so far passes here: one record holding a well-formed
 * ClientHello that names the CONNECT host (the judgement JavaScript would make). Once the bytes
 * can no longer be that, JavaScript judges them (it has been sent every byte).
 */
static int hello_passes(tunnel_t *t) {
  if (t->expect == NULL) return 0;
  uint32_t off = 0, len = 0;
  int seen = scan_client_hello((const uint8_t *)t->head, t->head_len, &off, &len);
  if (seen == HELLO_MORE) return 0;
  int pass = seen == HELLO_NAME && hello_name_is((const uint8_t *)t->head + off, len, t->expect, t->expect_len);
  drop_expect(t);
  return pass;
}

/*
 * Collects the client's first bytes (its ClientHello) and passes it, or has JavaScript judge it.
 * `short_stop` as in pump_copy: an input event without a hang-up.
 */
static void read_peek(tunnel_t *t, int short_stop) {
  for (;;) {
    if (t->head_len >= PEEK_MAX) return; /* JavaScript has enough to refuse it */
    size_t room = PEEK_MAX - t->head_len;
    size_t want = room < READ_SIZE ? room : READ_SIZE;
    ssize_t n = recv(t->fd[0], E.buf, want, 0);
    if (n > 0) {
      append_head(t, E.buf, (size_t)n);
      flush_connected(t);
      if (hello_passes(t)) {
        push_event(EV_HELLO_PASSED, t, 0, 0, NULL, 0, NULL);
        pass_hello(t, short_stop && (size_t)n < want);
        return;
      }
      push_event(EV_PEEK, t, 0, 0, E.buf, (size_t)n, NULL);
      continue;
    }
    if (n == 0) {
      end_tunnel(t, END_CLIENT_GONE);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    end_tunnel(t, END_CLIENT_GONE);
    return;
  }
}

/* A refusal is being written: finish writing, half-close, drain what the client still sends. */
static void respond_event(tunnel_t *t, uint32_t events) {
  if (t->d[1].pending != NULL) {
    if (!flush(t, 1)) return;
  }
  if (!t->d[1].shut) {
    t->d[1].shut = 1;
    shutdown(t->fd[0], SHUT_WR);
  }
  for (;;) {
    ssize_t n = recv(t->fd[0], E.buf, READ_SIZE, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(events & (EPOLLHUP | EPOLLERR))) return;
    end_tunnel(t, END_RESPONDED);
    return;
  }
}

static void on_event(tunnel_t *t, int side, uint32_t events) {
  if (t->closed) return;
  switch (t->state) {
    case ST_RELAY:
      relay_event(t, side, events);
      return;
    case ST_HEAD:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_head(t);
      return;
    case ST_DECIDE:
      /* Bytes wait in the kernel (remembered, to be read once connected); only a vanished client
         matters now. */
      if (events & (EPOLLIN | EPOLLRDHUP)) t->unread = 1;
      if (events & (EPOLLHUP | EPOLLERR)) end_tunnel(t, END_CLIENT_GONE);
      return;
    case ST_CONNECT:
      if (side == 1 && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) connected(t, events);
      else if (side == 0 && (events & (EPOLLHUP | EPOLLERR))) end_tunnel(t, END_CLIENT_GONE);
      else if (side == 0 && (events & (EPOLLIN | EPOLLRDHUP))) t->unread = 1;
      return;
    case ST_PEEK:
      if (side == 0) {
        if ((events & EPOLLOUT) && t->d[1].pending != NULL) flush(t, 1);
        if (!t->closed && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
          read_peek(t, !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)));
      } else if (events & (EPOLLHUP | EPOLLERR)) {
        t->error = ECONNRESET;
        end_tunnel(t, END_UPSTREAM_ERROR);
      }
      return;
    case ST_RESPOND:
      if (side == 0) respond_event(t, events);
      return;
  }
}

/* ---- commands from JavaScript ---- */

static void cmd_listen(cmd_t *c) {
  int index = c->b;
  if (index < 0 || index >= MAX_LISTENERS) {
    close(c->a);
    return;
  }
  listener_t *l = &E.listeners[index];
  l->fd = c->a;
  l->max_head = c->c;
  l->head_timeout = c->e;
  l->retry_at = 0;
  /* Set once here, inherited by every accepted socket: one system call fewer per connection. */
  int one = 1;
  l->nodelay = setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
  /*
   * Accept only once the client has sent something (its request head): the connection reaches
   * the relay with its head readable, one wake-up and one empty read fewer per connection.
   * A client that sends nothing is accepted after about DEFER_ACCEPT_S all the same (the
   * kernel's rule), and then meets the head timeout.
   */
  int defer = DEFER_ACCEPT_S;
  setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTENER_TAG(index)};
  epoll_ctl(E.epfd, EPOLL_CTL_ADD, l->fd, &ev);
}

static void cmd_unlisten(cmd_t *c) {
  int index = c->b;
  if (index < 0 || index >= MAX_LISTENERS || E.listeners[index].fd < 0) return;
  epoll_ctl(E.epfd, EPOLL_CTL_DEL, E.listeners[index].fd, NULL);
  close(E.listeners[index].fd);
  E.listeners[index].fd = -1;
  drop_grants(index, INT64_MAX);
}

static void cmd_connect(tunnel_t *t, cmd_t *c) {
  if (t->state != ST_DECIDE) return;
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  int family;
  if (inet_pton(AF_INET, c->addr, &in4->sin_addr) == 1) {
    family = AF_INET;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)c->a);
    len = sizeof *in4;
  } else if (inet_pton(AF_INET6, c->addr, &in6->sin6_addr) == 1) {
    family = AF_INET6;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)c->a);
    len = sizeof *in6;
  } else {
    push_event(EV_CONNECT_FAILED, t, EINVAL, 0, NULL, 0, NULL);
    return;
  }
  t->peek = (uint8_t)(c->c != 0);
  drop_expect(t);
  if (t->peek && c->len > 0) {
    t->expect = c->data;
    t->expect_len = c->len;
    c->data = NULL;
  }
  t->idle_ms = (int64_t)c->idle;
  t->started = now_ms();
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    push_event(EV_CONNECT_FAILED, t, errno, 0, NULL, 0, NULL);
    return;
  }
  t->fd[1] = fd;
  if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    t->fd[1] = -1;
    push_event(EV_CONNECT_FAILED, t, err, 0, NULL, 0, NULL);
    return;
  }
  t->state = ST_CONNECT;
  set_deadline(t, now_ms() + c->b);
  if (watch(t, 1, EPOLL_CTL_ADD) != 0) {
    int err = errno;
    close(fd);
    t->fd[1] = -1;
    t->state = ST_DECIDE;
    set_deadline(t, 0);
    push_event(EV_CONNECT_FAILED, t, err, 0, NULL, 0, NULL);
  }
}

static void cmd_respond(tunnel_t *t, cmd_t *c) {
  if (t->state != ST_HEAD && t->state != ST_DECIDE) return;
  set_deadline(t, 0);
  if (t->fd[1] >= 0) {
    epoll_ctl(E.epfd, EPOLL_CTL_DEL, t->fd[1], NULL);
    close(t->fd[1]);
    t->fd[1] = -1;
  }
  t->state = ST_RESPOND;
  set_deadline(t, now_ms() + 2000);
  ssize_t w = c->len > 0 ? send(t->fd[0], c->data, c->len, MSG_NOSIGNAL) : 0;
  /* No lingering (c->a == 0: the process has no descriptor to spare): written, closed at once. */
  if ((w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || c->a == 0) {
    end_tunnel(t, END_RESPONDED);
    return;
  }
  if (w < (ssize_t)c->len) keep(&t->d[1], c->data + (w < 0 ? 0 : w), c->len - (size_t)(w < 0 ? 0 : w));
  respond_event(t, 0);
}

/* The ClientHello passed: it goes to the upstream first; the client's later bytes follow it. */
static void pass_hello(tunnel_t *t, int client_drained) {
  drop_expect(t);
  take_early(t);
  run_relay(t, client_drained);
}

static void cmd_verdict(tunnel_t *t, cmd_t *c) {
  if (t->state != ST_PEEK) return;
  if (c->a != 1) {
    end_tunnel(t, END_CUT);
    return;
  }
  pass_hello(t, 0);
}

static void take_commands(void) {
  /* One read takes the whole count and resets it (not a semaphore eventfd). */
  uint64_t ignored;
  if (read(E.wakefd, &ignored, sizeof ignored) < 0) {
    /* EAGAIN: a wake-up already taken by the turn before; the queues below are read anyway. */
  }
  pthread_mutex_lock(&E.lock);
  tunnel_t *adds = E.adds;
  E.adds = NULL;
  cmd_t *cmds = E.cmds;
  E.cmds = NULL;
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
  /* both queues are newest first: reverse them so work happens in the order it was asked for */
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
  cmd_t *in_order = NULL;
  while (cmds != NULL) {
    cmd_t *next = cmds->next;
    cmds->next = in_order;
    in_order = cmds;
    cmds = next;
  }
  while (in_order != NULL) {
    cmd_t *c = in_order;
    in_order = c->next;
    if (c->kind == CMD_LISTEN) cmd_listen(c);
    else if (c->kind == CMD_UNLISTEN) cmd_unlisten(c);
    else if (c->kind == CMD_GRANT) cmd_grant(c);
    else if (c->kind == CMD_REVOKE) grants_revoked();
    else {
      tunnel_t *t = table_get(c->id);
      if (t != NULL && !t->closed) {
        if (c->kind == CMD_CONNECT) cmd_connect(t, c);
        else if (c->kind == CMD_RESPOND) cmd_respond(t, c);
        else if (c->kind == CMD_VERDICT) cmd_verdict(t, c);
      }
    }
    free(c->data);
    free(c->head);
    free(c);
  }
  if (all) {
    while (E.live_len > 0) end_tunnel(E.live[E.live_len - 1], END_ABORTED);
  }
  for (size_t i = 0; i < n; i++) {
    tunnel_t *t = table_get(ids[i]);
    if (t != NULL) end_tunnel(t, END_ABORTED);
  }
  free(ids);
}

/* Idle tunnels, and front waits that ran out of time. */
static void scan_time(int64_t now, int idle_too) {
  for (size_t i = 0; i < E.live_len;) {
    tunnel_t *t = E.live[i];
    size_t before = E.live_len;
    if (t->deadline != 0 && now >= t->deadline) {
      switch (t->state) {
        case ST_HEAD:
          /* Nothing said: close quietly. Something said: JavaScript answers 408 and logs it. */
          if (t->head_len == 0) end_tunnel(t, END_CLIENT_GONE);
          else head_to_js(t, 1);
          break;
        case ST_CONNECT:
          epoll_ctl(E.epfd, EPOLL_CTL_DEL, t->fd[1], NULL);
          close(t->fd[1]);
          t->fd[1] = -1;
          t->state = ST_DECIDE;
          set_deadline(t, 0);
          push_event(EV_CONNECT_FAILED, t, ETIMEDOUT, 0, NULL, 0, NULL);
          break;
        case ST_PEEK:
          end_tunnel(t, END_PEEK_TIMEOUT);
          break;
        default:
          end_tunnel(t, END_RESPONDED);
          break;
      }
    } else if (idle_too && t->state == ST_RELAY && t->idle_ms > 0 && now - t->last_active >= t->idle_ms) {
      /* idle_ms 0: no idle timeout (timeouts.tunnelIdle: 0), as in the JavaScript engine. */
      end_tunnel(t, END_IDLE);
    }
    if (E.live_len == before) i++; /* an ended tunnel swaps another into slot i */
  }
  for (int k = 0; k < MAX_LISTENERS; k++) {
    listener_t *l = &E.listeners[k];
    if (l->fd >= 0 && l->retry_at != 0 && now >= l->retry_at) {
      l->retry_at = 0;
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTENER_TAG(k)};
      epoll_ctl(E.epfd, EPOLL_CTL_MOD, l->fd, &ev);
    }
  }
}

/* Busy polling (engine.busyPollUs): set by JavaScript, read by the relay thread every turn. */
static int64_t busy_poll_max_ns;
/* Nanoseconds the relay thread polled before events came, and before it slept after all. */
static uint64_t busy_poll_found_ns, busy_poll_slept_ns;
/* Engine thread only: how long the next wait polls before it sleeps. */
static int64_t poll_limit_ns;

/*
 * epoll_wait, polling first for up to poll_limit_ns when busy polling is on. An idle virtual CPU
 * halts, and waking the thread on it again costs far more than the event that woke it; polling
 * keeps the CPU awake through short gaps. The window adapts as the kernel's haltpoll governor's
 * does: an idle spell longer than the maximum halves it (so an idle relay soon stops polling),
 * one that ended after the window but within the maximum doubles it.
 */
static int wait_events(struct epoll_event *events, int timeout) {
  int64_t max = __atomic_load_n(&busy_poll_max_ns, __ATOMIC_RELAXED);
  if (max <= 0 || timeout == 0) return epoll_wait(E.epfd, events, EVENTS_PER_WAIT, timeout);
  if (poll_limit_ns > max) poll_limit_ns = max;
  int64_t start = now_ns(), now = start;
  if (poll_limit_ns > 0) {
    int64_t end = start + poll_limit_ns;
    do {
      int n = epoll_wait(E.epfd, events, EVENTS_PER_WAIT, 0);
      if (n != 0) {
        __atomic_fetch_add(&busy_poll_found_ns, (uint64_t)(now_ns() - start), __ATOMIC_RELAXED);
        return n;
      }
      now = now_ns();
    } while (now < end);
    __atomic_fetch_add(&busy_poll_slept_ns, (uint64_t)(now - start), __ATOMIC_RELAXED);
  }
  int n = epoll_wait(E.epfd, events, EVENTS_PER_WAIT, timeout);
  int64_t idle = now_ns() - start;
  if (n == 0 || idle > max) {
    poll_limit_ns /= 2;
    if (poll_limit_ns < 1000) poll_limit_ns = 0;
  } else if (idle > poll_limit_ns) {
    int64_t grown = poll_limit_ns * 2;
    if (grown < max / 4) grown = max / 4;
    poll_limit_ns = grown > max ? max : grown;
  }
  return n;
}

static void *engine_main(void *arg) {
  (void)arg;
  struct epoll_event events[EVENTS_PER_WAIT];
  for (;;) {
    int timeout = again_len > 0 ? 0 : lazy_since != 0 ? 1 : E.front_waits > 0 ? 100 : 1000;
    int n = wait_events(events, timeout);
    if (n < 0 && errno != EINTR) abort();
    int commands = 0;
    for (int i = 0; i < n; i++) {
      uint64_t data = events[i].data.u64;
      if (data == 0) {
        commands = 1;
        continue;
      }
      if (IS_LISTENER(data)) {
        accept_on((int)((data - 2) / 2));
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
    int idle_scan = now - E.last_scan >= 1000;
    if (idle_scan || E.front_waits > 0) {
      if (idle_scan) {
        E.last_scan = now;
        pipes_trim();
        drop_grants(-1, now);
      }
      scan_time(now, idle_scan);
    }
    maybe_notify();
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

/* The JavaScript callbacks: onDone(records) and onFront(events). */
static napi_ref on_front_ref;

static void deliver_events(napi_env env, event_t *list, size_t n) {
  napi_value cb, undef, arr;
  if (on_front_ref == NULL || napi_get_reference_value(env, on_front_ref, &cb) != napi_ok) {
    for (size_t i = 0; i < n; i++) free(list[i].data);
    return;
  }
  napi_create_array_with_length(env, n * 6, &arr);
  for (size_t i = 0; i < n; i++) {
    event_t *ev = &list[i];
    napi_value v;
    napi_create_int32(env, ev->kind, &v);
    napi_set_element(env, arr, (uint32_t)(i * 6), v);
    napi_create_double(env, ev->id, &v);
    napi_set_element(env, arr, (uint32_t)(i * 6 + 1), v);
    napi_create_double(env, ev->a, &v);
    napi_set_element(env, arr, (uint32_t)(i * 6 + 2), v);
    napi_create_double(env, ev->b, &v);
    napi_set_element(env, arr, (uint32_t)(i * 6 + 3), v);
    if (ev->len > 0) {
      void *copy;
      napi_create_buffer_copy(env, ev->len, ev->data, &copy, &v);
    } else {
      napi_get_null(env, &v);
    }
    napi_set_element(env, arr, (uint32_t)(i * 6 + 4), v);
    if (ev->addr[0] != 0) napi_create_string_utf8(env, ev->addr, NAPI_AUTO_LENGTH, &v);
    else napi_get_null(env, &v);
    napi_set_element(env, arr, (uint32_t)(i * 6 + 5), v);
    free(ev->data);
  }
  napi_get_undefined(env, &undef);
  if (napi_call_function(env, undef, cb, 1, &arr, NULL) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  (void)data;
  if (env == NULL) return;
  pthread_mutex_lock(&E.lock);
  E.notified = 0;
  size_t n = E.done_len;
  done_t *copy = NULL;
  if (n > 0) {
    copy = malloc(n * sizeof(done_t));
    if (copy == NULL) abort();
    memcpy(copy, E.done, n * sizeof(done_t));
    E.done_len = 0;
  }
  size_t m = E.events_len;
  event_t *events = NULL;
  if (m > 0) {
    events = malloc(m * sizeof(event_t));
    if (events == NULL) abort();
    memcpy(events, E.events, m * sizeof(event_t));
    E.events_len = 0;
  }
  pthread_mutex_unlock(&E.lock);
  /* Front events first: a tunnel's events always come before its end. */
  if (m > 0) {
    deliver_events(env, events, m);
    free(events);
  }
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

/* start(onDone(records: Float64Array [id, bytesUp, bytesDown, reason, errno] * n), onFront(events)) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (E.started) {
    napi_throw_error(env, NULL, "airlock native: the relay is already started");
    return NULL;
  }
  for (int i = 0; i < MAX_LISTENERS; i++) E.listeners[i].fd = -1;
  E.buf = malloc(READ_SIZE);
  E.epfd = epoll_create1(EPOLL_CLOEXEC);
  E.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (E.buf == NULL || E.epfd < 0 || E.wakefd < 0) {
    napi_throw_error(env, NULL, "airlock native: cannot create epoll/eventfd");
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
  epoll_ctl(E.epfd, EPOLL_CTL_ADD, E.wakefd, &ev);
  if (argc >= 2) {
    napi_valuetype type;
    napi_typeof(env, argv[1], &type);
    if (type == napi_function) CHECK(napi_create_reference(env, argv[1], 1, &on_front_ref));
  }
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

/* relayCopy(on): relay by recv/send through the shared buffer, as where splice is refused (tests). */
static napi_value js_relay_copy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "airlock native: relayCopy(on) takes a boolean");
    return NULL;
  }
  __atomic_store_n(&relay_copy, on ? 1 : 0, __ATOMIC_RELAXED);
  return NULL;
}

/* busyPoll(maxUs): poll for up to maxUs microseconds before sleeping (0: never). */
static napi_value js_busy_poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double us = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_double(env, argv[0], &us) != napi_ok || !(us >= 0 && us <= 1000000)) {
    napi_throw_range_error(env, NULL, "airlock native: busyPoll(maxUs) takes microseconds from 0 to 1000000");
    return NULL;
  }
  __atomic_store_n(&busy_poll_max_ns, (int64_t)(us * 1000), __ATOMIC_RELAXED);
  return NULL;
}

/*
 * relayStats(): [bytes written by splice, bytes written by send, pipes open, heads connected on a
 * grant, ns polled before events came, ns polled before sleeping], since the start.
 */
static napi_value js_relay_stats(napi_env env, napi_callback_info info) {
  napi_value out, v;
  double values[6] = {(double)__atomic_load_n(&spliced_bytes, __ATOMIC_RELAXED),
                      (double)__atomic_load_n(&copied_bytes, __ATOMIC_RELAXED),
                      (double)__atomic_load_n(&pipes_open, __ATOMIC_RELAXED),
                      (double)__atomic_load_n(&grants_used, __ATOMIC_RELAXED),
                      (double)__atomic_load_n(&busy_poll_found_ns, __ATOMIC_RELAXED),
                      (double)__atomic_load_n(&busy_poll_slept_ns, __ATOMIC_RELAXED)};
  CHECK(napi_create_array_with_length(env, 6, &out));
  for (uint32_t i = 0; i < 6; i++) {
    CHECK(napi_create_double(env, values[i], &v));
    CHECK(napi_set_element(env, out, i, v));
  }
  return out;
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

static void queue_cmd(cmd_t *c) {
  pthread_mutex_lock(&E.lock);
  int first = E.adds == NULL && E.cmds == NULL;
  c->next = E.cmds;
  E.cmds = c;
  pthread_mutex_unlock(&E.lock);
  if (first) wake();
}

static cmd_t *new_cmd(int kind) {
  cmd_t *c = calloc(1, sizeof(cmd_t));
  if (c == NULL) abort();
  c->kind = kind;
  return c;
}

/* frontListen(fd, index, maxHeadBytes, headTimeoutMs): the front accepts on this listening socket (it owns it from here). */
static napi_value js_front_listen(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd, index, max_head, timeout;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started || argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &index) != napi_ok || napi_get_value_int32(env, argv[2], &max_head) != napi_ok ||
      napi_get_value_int32(env, argv[3], &timeout) != napi_ok || index < 0 || index >= MAX_LISTENERS) {
    napi_throw_type_error(env, NULL, "airlock native: frontListen(fd, index, maxHeadBytes, headTimeoutMs)");
    return NULL;
  }
  cmd_t *c = new_cmd(CMD_LISTEN);
  c->a = fd;
  c->b = index;
  c->c = max_head;
  c->e = timeout;
  queue_cmd(c);
  return NULL;
}

/* frontUnlisten(index): stop accepting and close that listening socket. */
static napi_value js_front_unlisten(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t index;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started || argc < 1 || napi_get_value_int32(env, argv[0], &index) != napi_ok) return NULL;
  cmd_t *c = new_cmd(CMD_UNLISTEN);
  c->b = index;
  queue_cmd(c);
  return NULL;
}

/*
 * The arguments of a connect, from argv[0] on: address, port, timeoutMs, peek, idleMs, then
 * passName (`n` = 5: absent; null: none; else a lowercase DNS name of at most 253 bytes), into
 * `c` as a CMD_CONNECT carries them. 0 when one is not what it must be (nothing was kept then).
 */
static int read_connect_args(napi_env env, const napi_value *argv, size_t n, cmd_t *c) {
  int32_t port, timeout;
  bool peek;
  double idle;
  size_t len;
  char name[256];
  size_t name_len = 0;
  napi_valuetype name_type = napi_undefined;
  if (n < 5 || napi_get_value_string_utf8(env, argv[0], c->addr, sizeof c->addr, &len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_get_value_int32(env, argv[2], &timeout) != napi_ok ||
      napi_get_value_bool(env, argv[3], &peek) != napi_ok || napi_get_value_double(env, argv[4], &idle) != napi_ok ||
      (n > 5 && napi_typeof(env, argv[5], &name_type) != napi_ok) ||
      (name_type == napi_string &&
       (napi_get_value_string_utf8(env, argv[5], name, sizeof name, &name_len) != napi_ok || name_len == 0 ||
        name_len > 253)))
    return 0;
  if (name_type == napi_string) {
    c->data = copy_of(name, name_len);
    c->len = (uint32_t)name_len;
  }
  c->a = port;
  c->b = timeout;
  c->c = peek ? 1 : 0;
  c->idle = idle;
  return 1;
}

/* frontConnect(id, address, port, timeoutMs, peek, idleMs, passName = null): with passName, a
   ClientHello naming it passes in the front. */
static napi_value js_front_connect(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  double id;
  cmd_t *c = new_cmd(CMD_CONNECT);
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started || argc < 6 || napi_get_value_double(env, argv[0], &id) != napi_ok ||
      !read_connect_args(env, argv + 1, argc - 1, c)) {
    free(c);
    napi_throw_type_error(env, NULL,
                          "airlock native: frontConnect(id, address, port, timeoutMs, peek, idleMs, passName)");
    return NULL;
  }
  c->id = id;
  queue_cmd(c);
  return NULL;
}

/* frontRespond(id, bytes, linger = true): write a refusal, half-close, and close once the client
   has closed too (at most 2 s); without linger, close right after writing. */
static napi_value js_front_respond(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  double id;
  void *data;
  size_t len;
  bool is_buffer = false;
  bool linger = true;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started || argc < 2 || napi_get_value_double(env, argv[0], &id) != napi_ok ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      (argc > 2 && napi_get_value_bool(env, argv[2], &linger) != napi_ok)) {
    napi_throw_type_error(env, NULL, "airlock native: frontRespond(id, bytes, linger)");
    return NULL;
  }
  napi_get_buffer_info(env, argv[1], &data, &len);
  cmd_t *c = new_cmd(CMD_RESPOND);
  c->id = id;
  c->a = linger ? 1 : 0;
  if (len > 0) c->data = copy_of(data, len);
  c->len = (uint32_t)len;
  queue_cmd(c);
  return NULL;
}

/* frontVerdict(id, pass): the ClientHello passed (relay the tunnel) or not (cut both sides). */
static napi_value js_front_verdict(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double id;
  bool pass;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!E.started || argc < 2 || napi_get_value_double(env, argv[0], &id) != napi_ok ||
      napi_get_value_bool(env, argv[1], &pass) != napi_ok) {
    napi_throw_type_error(env, NULL, "airlock native: frontVerdict(id, pass)");
    return NULL;
  }
  cmd_t *c = new_cmd(CMD_VERDICT);
  c->id = id;
  c->a = pass ? 1 : 2;
  queue_cmd(c);
  return NULL;
}

/* frontGrant(listener, client, head, address, port, timeoutMs, peek, idleMs, passName, ttlMs):
   the next request head equal to `head` from `client` on `listener`, within ttlMs, connects as
   frontConnect(id, address, port, timeoutMs, peek, idleMs, passName) would. */
static napi_value js_front_grant(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  int32_t listener, ttl;
  size_t len;
  void *head;
  size_t head_len = 0;
  bool is_buffer = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  cmd_t *c = new_cmd(CMD_GRANT);
  if (!E.started || argc < 10 || napi_get_value_int32(env, argv[0], &listener) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], c->client, sizeof c->client, &len) != napi_ok || len == 0 ||
      napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[2], &head, &head_len) != napi_ok || head_len == 0 ||
      napi_get_value_int32(env, argv[9], &ttl) != napi_ok || ttl <= 0 || listener < 0 || listener >= MAX_LISTENERS ||
      !read_connect_args(env, argv + 3, 6, c)) {
    free(c);
    napi_throw_type_error(env, NULL,
                          "airlock native: frontGrant(listener, client, head, address, port, timeoutMs, peek, "
                          "idleMs, passName, ttlMs)");
    return NULL;
  }
  c->head = copy_of(head, head_len);
  c->head_len = (uint32_t)head_len;
  c->e = listener;
  c->ttl_ms = ttl;
  c->epoch = __atomic_load_n(&grant_epoch, __ATOMIC_ACQUIRE);
  queue_cmd(c);
  return NULL;
}

/* frontRevokeGrants(): every grant goes (each is reported gone); no head read from now on is
   connected on one made before. */
static napi_value js_front_revoke_grants(napi_env env, napi_callback_info info) {
  (void)info;
  if (!E.started) return NULL;
  __atomic_add_fetch(&grant_epoch, 1, __ATOMIC_RELEASE);
  /* The command empties the table (and reports the grants gone) without waiting for a head. */
  queue_cmd(new_cmd(CMD_REVOKE));
  (void)env;
  return NULL;
}

/* scanClientHello(bytes): what the front reads in a tunnel's first bytes (the tests compare it
   with JavaScript's reader): the host_name when it would pass them on a name, else 0 (wait for
   more bytes) or 2 (JavaScript judges them). */
static napi_value js_scan_client_hello(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data;
  size_t len;
  bool is_buffer = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len > UINT32_MAX) {
    napi_throw_type_error(env, NULL, "airlock native: scanClientHello(bytes)");
    return NULL;
  }
  uint32_t off = 0, n = 0;
  int seen = scan_client_hello((const uint8_t *)data, (uint32_t)len, &off, &n);
  napi_value out;
  if (seen == HELLO_NAME) CHECK(napi_create_string_latin1(env, (const char *)data + off, n, &out));
  else CHECK(napi_create_int32(env, seen, &out));
  return out;
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

/*
 * trimMemory() -> microseconds: gives the free pages inside malloc's heaps back to the system
 * (malloc_trim; glibc only, elsewhere it does nothing). A gateway that held and closed thousands
 * of connections keeps their freed memory resident otherwise: glibc returns only the top of a
 * heap by itself.
 */
static napi_value js_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  clock_gettime(CLOCK_MONOTONIC, &b);
  napi_value result;
  CHECK(napi_create_double(env, (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  /*
   * At most two malloc arenas: the main thread's and one for every other thread (this relay's
   * and Node's worker pool). glibc gives each thread its own arena up to 8 per core, and each
   * keeps what it ever held: a gateway holding tens of thousands of tunnels paid ~1 KiB per
   * tunnel for arenas of threads that do no per-tunnel work. Only arenas created from now on
   * are limited; the environment (MALLOC_ARENA_MAX) still decides when it is set.
   */
#if defined(__GLIBC__)
  if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, 2);
#endif
  napi_property_descriptor props[] = {
      {"trimMemory", NULL, js_trim_memory, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"relayCopy", NULL, js_relay_copy, NULL, NULL, NULL, napi_default, NULL},
      {"relayStats", NULL, js_relay_stats, NULL, NULL, NULL, napi_default, NULL},
      {"busyPoll", NULL, js_busy_poll, NULL, NULL, NULL, napi_default, NULL},
      {"add", NULL, js_add, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"boundPort", NULL, js_bound_port, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"frontListen", NULL, js_front_listen, NULL, NULL, NULL, napi_default, NULL},
      {"frontUnlisten", NULL, js_front_unlisten, NULL, NULL, NULL, napi_default, NULL},
      {"frontConnect", NULL, js_front_connect, NULL, NULL, NULL, napi_default, NULL},
      {"scanClientHello", NULL, js_scan_client_hello, NULL, NULL, NULL, napi_default, NULL},
      {"frontRespond", NULL, js_front_respond, NULL, NULL, NULL, napi_default, NULL},
      {"frontVerdict", NULL, js_front_verdict, NULL, NULL, NULL, napi_default, NULL},
      {"frontGrant", NULL, js_front_grant, NULL, NULL, NULL, napi_default, NULL},
      {"frontRevokeGrants", NULL, js_front_revoke_grants, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value contract;
  if (napi_create_string_utf8(env, CONTRACT, NAPI_AUTO_LENGTH, &contract) == napi_ok)
    napi_set_named_property(env, exports, "contract", contract);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
