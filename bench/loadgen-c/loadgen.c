/*
 * Load generator and origin server of the side-by-side benchmark, in C so that neither sets the
 * pace on a small machine. One binary, three modes:
 *
 *   loadgen connect  -- tunnels in a loop: TCP connect, CONNECT name:port, 200, payload out,
 *                       payload echoed back, the origin closes, next tunnel (or, with --direct,
 *                       straight to the origin: connect, payload, echo, close).
 *   loadgen http     -- keep-alive connections, one GET at a time each (absolute-form through a
 *                       proxy, origin-form with --direct); a connection the server closes is
 *                       reopened.
 *   loadgen origin   -- the servers those two talk to: echo-then-close ports (echo the first
 *                       --hello-len bytes, then close: the server closes first, so TIME_WAIT lands
 *                       on the server side) and an HTTP/1.1 server with /1k and /1m, keep-alive.
 *
 * Clients bind to --sources BASE,COUNT (connection k uses address k mod COUNT) with
 * IP_BIND_ADDRESS_NO_PORT, so every source address has its own ephemeral-port space per
 * destination. Each thread runs its own epoll loop over its share of the connections.
 *
 * Time: --start-at, --window-start and --window-end are wall-clock instants in milliseconds since
 * the epoch, the same instants at which the orchestrator samples the proxy's CPU. Only what
 * completes inside [window-start, window-end) counts; latencies go into a log-linear histogram
 * (32 sub-buckets per power of two, under 3.2 % relative width). At the window's end every
 * connection is closed and one JSON object is printed on stdout, including the CPU time every
 * thread used inside the window (getrusage RUSAGE_THREAD at both edges).
 *
 * Bounded: every connection has a timeout, the run ends at --window-end (plus at most one second
 * for the edge), --max-ops caps the operations started, and an alarm ends the process if anything
 * hangs. An origin exits when its parent dies (PR_SET_PDEATHSIG) or after --max-seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_THREADS 16
#define MAX_CONNS 100000
#define MAX_PORTS 32
#define MAX_PAYLOAD 16384
#define HEAD_MAX 8192
#define READ_BUF (256 * 1024)

/* ------------------------------------------------------------------ time */

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock milliseconds → this process's monotonic microseconds. */
static uint64_t wall_to_mono(int64_t wall) {
  int64_t delta_ms = wall - wall_ms();
  int64_t mono = (int64_t)mono_us() + delta_ms * 1000;
  return mono < 0 ? 0 : (uint64_t)mono;
}

static double thread_cpu_s(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
  *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  return *user + *sys;
}

/* ------------------------------------------------------------------ histogram */

#define HIST_SUB 32
#define HIST_BUCKETS (64 + 40 * HIST_SUB)

static int hist_index(uint64_t v) {
  if (v < 64) return (int)v;
  int e = 63 - __builtin_clzll(v); /* e >= 6 */
  int sub = (int)((v >> (e - 5)) & (HIST_SUB - 1));
  int idx = 64 + (e - 6) * HIST_SUB + sub;
  return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_lower(int idx) {
  if (idx < 64) return (uint64_t)idx;
  int e = (idx - 64) / HIST_SUB + 6;
  uint64_t sub = (uint64_t)((idx - 64) % HIST_SUB);
  return (HIST_SUB + sub) << (e - 5);
}

static uint64_t hist_upper(int idx) {
  if (idx < 64) return (uint64_t)idx + 1;
  int e = (idx - 64) / HIST_SUB + 6;
  return hist_lower(idx) + ((uint64_t)1 << (e - 5));
}

/* ------------------------------------------------------------------ errors */

enum {
  E_TIMEOUT_CONNECT,
  E_TIMEOUT_HEAD,
  E_TIMEOUT_ECHO,
  E_TIMEOUT_CLOSE,
  E_TIMEOUT_RESPONSE,
  E_CLOSED_HEAD,
  E_CLOSED_ECHO,
  E_CLOSED_RESPONSE,
  E_BAD_RESPONSE,
  E_ECHO_TOO_LONG,
  E_DATA_AFTER_ECHO,
  E_WRONG_LENGTH,
  E_BYTES_AFTER_RESPONSE,
  E_COUNT
};
static const char *const E_NAMES[E_COUNT] = {
    "timeout-connect", "timeout-head",  "timeout-echo",    "timeout-close",     "timeout-response",
    "closed-head",     "closed-echo",   "closed-response", "bad-response",      "echo-too-long",
    "data-after-echo", "wrong-length",  "bytes-after-response",
};
#define ERRNO_MAX 160

struct counts {
  uint64_t named[E_COUNT];
  uint64_t status[600];
  uint64_t errnos[ERRNO_MAX];
};

/* ------------------------------------------------------------------ options */

enum mode { MODE_CONNECT, MODE_HTTP, MODE_ORIGIN };

static struct {
  enum mode mode;
  int direct;
  struct sockaddr_in proxy;
  uint32_t origin_host; /* network order */
  uint16_t ports[MAX_PORTS];
  int nports;
  char name[256];
  char path[256];
  uint32_t src_base; /* host order */
  uint32_t src_count;
  int concurrency;
  int threads;
  unsigned char payload[MAX_PAYLOAD];
  size_t payload_len;
  int64_t start_at, window_start, window_end;
  uint64_t timeout_us;
  uint64_t expect_bytes;
  uint64_t max_ops;
  /* origin */
  int close_ports;
  int http_server;
  size_t hello_len;
  int max_seconds;
  uint32_t dns_host; /* network order; 0: no DNS server */
} opt;

static uint64_t mono_start, mono_ws, mono_we;

/* ------------------------------------------------------------------ client side */

enum cstate { S_IDLE, S_CONNECTING, S_HEAD, S_ECHO, S_CLOSING, S_RESPONSE };
enum bstate { B_LENGTH, B_CLOSE, B_CHUNK_SIZE, B_CHUNK_DATA, B_CHUNK_CRLF, B_TRAILER };

struct conn {
  int fd;
  uint8_t state;
  uint8_t body;
  uint8_t keep_alive;
  uint8_t line_len;
  uint32_t head_len;
  uint64_t echoed;
  uint64_t t0;      /* connect started */
  uint64_t t_sent;  /* CONNECT or request written */
  uint64_t t_up;    /* connect mode: connected, then the 200 read (payload written), then echo read */
  uint64_t t_ok;
  uint64_t t_echoed;
  uint64_t deadline;
  uint64_t retry_at;  /* after a failure, the slot waits until then (a refusal must not spin) */
  uint64_t remaining; /* body bytes (length or chunk) */
  uint64_t body_bytes;
  int status;
  char line[32]; /* chunk-size line */
  char head[HEAD_MAX];
};

struct worker {
  pthread_t thread;
  int id;
  int ep;
  int nconns;
  struct conn *conns;
  uint64_t next_k; /* connection counter (source address, origin port) */
  uint64_t ops;    /* operations started (bounded by max_ops / threads) */
  uint64_t completed, failed, attempted_in_window, connects, responses, bytes;
  uint64_t hist[HIST_BUCKETS];
  /* connect mode, tunnels completed in the window: µs summed per phase (connect, CONNECT → 200,
     payload → echo, echo → close) */
  uint64_t phase_us[4];
  struct counts counts;
  double cpu0_user, cpu0_sys, cpu1_user, cpu1_sys;
  int cpu0_taken, cpu1_taken;
  unsigned char *rbuf;
  char request[1024];
  size_t request_len;
  char connect_line[600];
  size_t connect_len;
};

static int in_window(uint64_t t) { return t >= mono_ws && t < mono_we; }

static void count_errno(struct worker *w, int err) {
  if (err > 0 && err < ERRNO_MAX) w->counts.errnos[err]++;
  else w->counts.errnos[0]++;
}

static void close_conn(struct worker *w, struct conn *c) {
  (void)w;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = S_IDLE;
}

#define RETRY_US 5000

static void failed_conn(struct worker *w, struct conn *c, uint64_t now) {
  if (in_window(now)) w->failed++;
  close_conn(w, c);
  c->retry_at = now + RETRY_US;
}

static void fail_named(struct worker *w, struct conn *c, int which, uint64_t now) {
  w->counts.named[which]++;
  failed_conn(w, c, now);
}

static void fail_errno(struct worker *w, struct conn *c, int err, uint64_t now) {
  count_errno(w, err);
  failed_conn(w, c, now);
}

static void fail_status(struct worker *w, struct conn *c, int status, uint64_t now) {
  if (status >= 100 && status < 600) w->counts.status[status]++;
  else w->counts.named[E_BAD_RESPONSE]++;
  failed_conn(w, c, now);
}

static int start_conn(struct worker *w, struct conn *c, uint64_t now) {
  if (opt.max_ops > 0 && w->ops >= opt.max_ops) {
    c->retry_at = UINT64_MAX; /* this slot is done */
    return -1;
  }
  w->ops++;
  uint64_t k = w->next_k++ * (uint64_t)opt.threads + (uint64_t)w->id;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    count_errno(w, errno);
    if (in_window(now)) w->failed++;
    c->retry_at = now + RETRY_US;
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
  src.sin_addr.s_addr = htonl(opt.src_base + (uint32_t)(k % opt.src_count));
  if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
    count_errno(w, errno);
    if (in_window(now)) w->failed++;
    close(fd);
    c->retry_at = now + RETRY_US;
    return -1;
  }
  struct sockaddr_in dst;
  if (opt.direct) {
    dst = (struct sockaddr_in){.sin_family = AF_INET};
    dst.sin_addr.s_addr = opt.origin_host;
    dst.sin_port = htons(opt.ports[k % (uint64_t)opt.nports]);
  } else {
    dst = opt.proxy;
  }
  c->fd = fd;
  c->state = S_CONNECTING;
  c->t0 = now;
  c->t_sent = now;
  c->deadline = now + opt.timeout_us;
  c->head_len = 0;
  c->echoed = 0;
  c->status = 0;
  w->connects++;
  if (opt.mode == MODE_CONNECT && !opt.direct) {
    uint16_t port = opt.ports[k % (uint64_t)opt.nports];
    w->connect_len = (size_t)snprintf(w->connect_line, sizeof w->connect_line,
                                      "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n", opt.name, port,
                                      opt.name, port);
  }
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    c->fd = -1;
    c->state = S_IDLE;
    count_errno(w, err);
    if (in_window(now)) w->failed++;
    c->retry_at = now + RETRY_US;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET,
                           .data.u64 = (uint64_t)(c - w->conns)};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    fail_errno(w, c, errno, now);
    return -1;
  }
  /* The CONNECT line cannot be built later: the port belongs to this connection. */
  if (opt.mode == MODE_CONNECT && !opt.direct) {
    memcpy(c->head, w->connect_line, w->connect_len);
    c->head_len = (uint32_t)w->connect_len;
  }
  return 0;
}

static int send_all(int fd, const void *data, size_t len) {
  ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
  if (n < 0) return errno;
  if ((size_t)n != len) return EAGAIN; /* never on a fresh loopback socket with small writes */
  return 0;
}

static void send_request(struct worker *w, struct conn *c, uint64_t now) {
  c->state = S_RESPONSE;
  c->head_len = 0;
  c->status = 0;
  c->body_bytes = 0;
  c->t_sent = now;
  c->deadline = now + opt.timeout_us;
  int err = send_all(c->fd, w->request, w->request_len);
  if (err != 0) fail_errno(w, c, err, now);
}

/* Case-insensitive search for a header's value inside a head; returns a pointer or NULL. */
static const char *header_value(const char *head, size_t len, const char *name) {
  size_t nl = strlen(name);
  const char *p = head;
  const char *end = head + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL) eol = end;
    if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      return v;
    }
    p = eol + 1;
  }
  return NULL;
}

static int value_has(const char *v, const char *head_end, const char *token) {
  if (v == NULL) return 0;
  const char *eol = memchr(v, '\r', (size_t)(head_end - v));
  size_t len = eol == NULL ? (size_t)(head_end - v) : (size_t)(eol - v);
  size_t tl = strlen(token);
  for (size_t i = 0; i + tl <= len; i++)
    if (strncasecmp(v + i, token, tl) == 0) return 1;
  return 0;
}

/* A finished HTTP response: count it, then the next request or a new connection. */
static void response_done(struct worker *w, struct conn *c, uint64_t now) {
  if (opt.expect_bytes > 0 && c->body_bytes != opt.expect_bytes) {
    fail_named(w, c, E_WRONG_LENGTH, now);
    return;
  }
  if (c->status != 200) {
    fail_status(w, c, c->status, now);
    return;
  }
  if (in_window(now)) {
    w->responses++;
    w->bytes += c->body_bytes;
    w->hist[hist_index(now - c->t_sent)]++;
  }
  if (now >= mono_we) {
    close_conn(w, c);
    return;
  }
  if (c->keep_alive) send_request(w, c, now);
  else close_conn(w, c); /* reopened by the loop */
}

/* Feeds response bytes; returns bytes consumed, or -1 when the connection was closed. */
static ssize_t http_feed(struct worker *w, struct conn *c, const unsigned char *data, size_t n,
                         uint64_t now) {
  size_t i = 0;
  while (i < n) {
    if (c->state != S_RESPONSE) {
      fail_named(w, c, E_BYTES_AFTER_RESPONSE, now);
      return -1;
    }
    if (c->head_len < HEAD_MAX && c->status == 0) {
      /* Head: copy until the blank line. */
      size_t room = HEAD_MAX - c->head_len;
      size_t take = n - i < room ? n - i : room;
      memcpy(c->head + c->head_len, data + i, take);
      size_t scan_from = c->head_len >= 3 ? c->head_len - 3 : 0;
      c->head_len += (uint32_t)take;
      char *h = c->head;
      char *endp = memmem(h + scan_from, c->head_len - scan_from, "\r\n\r\n", 4);
      if (endp == NULL) {
        if (c->head_len >= HEAD_MAX) {
          fail_named(w, c, E_BAD_RESPONSE, now);
          return -1;
        }
        i += take;
        continue;
      }
      size_t head_end = (size_t)(endp - h) + 4;
      size_t used = head_end - (c->head_len - take);
      i += used;
      int minor = -1, status = 0;
      if (sscanf(h, "HTTP/1.%d %d", &minor, &status) != 2 || status < 100 || status > 599) {
        fail_named(w, c, E_BAD_RESPONSE, now);
        return -1;
      }
      c->status = status;
      const char *he = h + head_end;
      const char *conn_v = header_value(h, head_end, "connection");
      int close_tok = value_has(conn_v, he, "close");
      int keep_tok = value_has(conn_v, he, "keep-alive");
      c->keep_alive = minor == 0 ? keep_tok : !close_tok;
      const char *te = header_value(h, head_end, "transfer-encoding");
      const char *cl = header_value(h, head_end, "content-length");
      c->body_bytes = 0;
      if (value_has(te, he, "chunked")) {
        c->body = B_CHUNK_SIZE;
        c->line_len = 0;
      } else if (cl != NULL) {
        c->remaining = strtoull(cl, NULL, 10);
        c->body = B_LENGTH;
        if (c->remaining == 0) {
          response_done(w, c, now);
          if (c->state != S_RESPONSE || c->status == 0) return (ssize_t)i;
        }
      } else if (status == 204 || status == 304) {
        c->remaining = 0;
        c->body = B_LENGTH;
        response_done(w, c, now);
        return (ssize_t)i;
      } else {
        c->body = B_CLOSE;
        c->keep_alive = 0;
      }
      continue;
    }
    /* Body. */
    switch (c->body) {
    case B_LENGTH: {
      size_t take = n - i < c->remaining ? n - i : (size_t)c->remaining;
      c->remaining -= take;
      c->body_bytes += take;
      i += take;
      if (c->remaining == 0) {
        response_done(w, c, now);
        if (i < n && c->state == S_RESPONSE) {
          /* Bytes beyond the response while waiting for the next one. */
          fail_named(w, c, E_BYTES_AFTER_RESPONSE, now);
          return -1;
        }
        return c->fd < 0 ? -1 : (ssize_t)i;
      }
      break;
    }
    case B_CLOSE:
      c->body_bytes += n - i;
      i = n;
      break;
    case B_CHUNK_SIZE:
    case B_TRAILER: {
      unsigned char ch = data[i++];
      if (ch == '\n') {
        c->line[c->line_len < sizeof c->line ? c->line_len : sizeof c->line - 1] = 0;
        int empty = c->line_len == 0 || (c->line_len == 1 && c->line[0] == '\r');
        c->line_len = 0;
        if (c->body == B_TRAILER) {
          if (empty) {
            response_done(w, c, now);
            return c->fd < 0 ? -1 : (ssize_t)i;
          }
          break;
        }
        char *endp = NULL;
        unsigned long long size = strtoull(c->line, &endp, 16);
        if (endp == c->line) {
          fail_named(w, c, E_BAD_RESPONSE, now);
          return -1;
        }
        if (size == 0) c->body = B_TRAILER;
        else {
          c->remaining = size;
          c->body = B_CHUNK_DATA;
        }
      } else if (c->line_len < sizeof c->line - 1) {
        c->line[c->line_len++] = (char)ch;
      }
      break;
    }
    case B_CHUNK_DATA: {
      size_t take = n - i < c->remaining ? n - i : (size_t)c->remaining;
      c->remaining -= take;
      c->body_bytes += take;
      i += take;
      if (c->remaining == 0) {
        c->body = B_CHUNK_CRLF;
        c->line_len = 0;
      }
      break;
    }
    case B_CHUNK_CRLF:
      if (data[i++] == '\n') c->body = B_CHUNK_SIZE;
      break;
    }
  }
  return (ssize_t)i;
}

static void on_connect_mode_data(struct worker *w, struct conn *c, const unsigned char *data, size_t n,
                                 uint64_t now) {
  size_t i = 0;
  if (c->state == S_HEAD) {
    size_t room = HEAD_MAX - c->head_len;
    size_t take = n < room ? n : room;
    memcpy(c->head + c->head_len, data, take);
    size_t scan_from = c->head_len >= 3 ? c->head_len - 3 : 0;
    c->head_len += (uint32_t)take;
    char *endp = memmem(c->head + scan_from, c->head_len - scan_from, "\r\n\r\n", 4);
    if (endp == NULL) {
      if (c->head_len >= HEAD_MAX) fail_named(w, c, E_BAD_RESPONSE, now);
      return;
    }
    size_t head_end = (size_t)(endp - c->head) + 4;
    int minor = -1, status = 0;
    if (sscanf(c->head, "HTTP/1.%d %d", &minor, &status) != 2) {
      fail_named(w, c, E_BAD_RESPONSE, now);
      return;
    }
    if (status != 200) {
      fail_status(w, c, status, now);
      return;
    }
    if (in_window(now)) w->hist[hist_index(now - c->t_sent)]++;
    c->t_ok = now;
    int err = send_all(c->fd, opt.payload, opt.payload_len);
    if (err != 0) {
      fail_errno(w, c, err, now);
      return;
    }
    c->state = S_ECHO;
    i = head_end - (c->head_len - take);
  }
  if (c->state == S_ECHO) {
    c->echoed += n - i;
    if (c->echoed > opt.payload_len) fail_named(w, c, E_ECHO_TOO_LONG, now);
    else if (c->echoed == opt.payload_len) {
      c->state = S_CLOSING;
      c->t_echoed = now;
    }
    return;
  }
  if (c->state == S_CLOSING && n > i) fail_named(w, c, E_DATA_AFTER_ECHO, now);
}

static void on_event(struct worker *w, struct conn *c, uint32_t events, uint64_t now) {
  if (c->fd < 0) return;
  if (c->state == S_CONNECTING) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      fail_errno(w, c, err != 0 ? err : ECONNRESET, now);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    /* Connected: only reads from now on. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u64 = (uint64_t)(c - w->conns)};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    int err;
    c->t_up = now;
    if (opt.mode == MODE_HTTP) {
      send_request(w, c, now);
      return;
    }
    if (opt.direct) {
      if (in_window(now)) w->hist[hist_index(now - c->t0)]++;
      c->t_sent = c->t_ok = now; /* no CONNECT phase */
      err = send_all(c->fd, opt.payload, opt.payload_len);
      c->state = S_ECHO;
    } else {
      c->t_sent = now;
      err = send_all(c->fd, c->head, c->head_len);
      c->head_len = 0;
      c->state = S_HEAD;
    }
    if (err != 0) fail_errno(w, c, err, now);
    return;
  }
  /* Readable (edge-triggered: read until EAGAIN), or closed. */
  for (;;) {
    ssize_t n = recv(c->fd, w->rbuf, READ_BUF, 0);
    if (n > 0) {
      if (opt.mode == MODE_HTTP) {
        if (http_feed(w, c, w->rbuf, (size_t)n, now) < 0) return;
      } else {
        on_connect_mode_data(w, c, w->rbuf, (size_t)n, now);
      }
      if (c->fd < 0) return;
      continue;
    }
    if (n == 0) {
      /* The peer closed. */
      if (opt.mode == MODE_CONNECT) {
        if (c->state == S_CLOSING) {
          if (in_window(now)) {
            w->completed++;
            w->phase_us[0] += c->t_up - c->t0;
            w->phase_us[1] += c->t_ok - c->t_sent;
            w->phase_us[2] += c->t_echoed - c->t_ok;
            w->phase_us[3] += now - c->t_echoed;
          }
          close_conn(w, c);
        } else {
          fail_named(w, c, c->state == S_HEAD ? E_CLOSED_HEAD : E_CLOSED_ECHO, now);
        }
      } else {
        if (c->state == S_RESPONSE && c->status != 0 && c->body == B_CLOSE) {
          c->keep_alive = 0;
          response_done(w, c, now);
          if (c->fd >= 0) close_conn(w, c);
        } else if (c->state == S_RESPONSE && c->head_len == 0 && c->status == 0) {
          close_conn(w, c); /* closed between requests (keep-alive ended): reopen */
        } else {
          fail_named(w, c, E_CLOSED_RESPONSE, now);
        }
      }
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EINTR) continue;
    fail_errno(w, c, errno, now);
    return;
  }
}

static void check_timeouts(struct worker *w, uint64_t now) {
  for (int i = 0; i < w->nconns; i++) {
    struct conn *c = &w->conns[i];
    if (c->fd < 0 || now < c->deadline) continue;
    int which = c->state == S_CONNECTING ? E_TIMEOUT_CONNECT
                : c->state == S_HEAD     ? E_TIMEOUT_HEAD
                : c->state == S_ECHO     ? E_TIMEOUT_ECHO
                : c->state == S_CLOSING  ? E_TIMEOUT_CLOSE
                                         : E_TIMEOUT_RESPONSE;
    fail_named(w, c, which, now);
  }
}

static void *client_thread(void *arg) {
  struct worker *w = arg;
  w->ep = epoll_create1(EPOLL_CLOEXEC);
  w->rbuf = malloc(READ_BUF);
  if (w->ep < 0 || w->rbuf == NULL) {
    perror("loadgen: epoll/malloc");
    exit(2);
  }
  if (opt.mode == MODE_HTTP) {
    char authority[300];
    snprintf(authority, sizeof authority, "%s:%u", opt.name, opt.ports[0]);
    if (opt.direct)
      w->request_len = (size_t)snprintf(w->request, sizeof w->request,
                                        "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: airlock-bench\r\nAccept: */*\r\n\r\n",
                                        opt.path, authority);
    else
      w->request_len = (size_t)snprintf(
          w->request, sizeof w->request,
          "GET http://%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: airlock-bench\r\nAccept: */*\r\n\r\n",
          authority, opt.path, authority);
  }
  struct epoll_event events[512];
  uint64_t now = mono_us();
  while (now < mono_start) {
    uint64_t wait = mono_start - now;
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000u), .tv_nsec = (long)(wait % 1000000u) * 1000};
    nanosleep(&ts, NULL);
    now = mono_us();
  }
  for (int i = 0; i < w->nconns; i++) {
    w->conns[i].fd = -1;
    w->conns[i].retry_at = 0;
  }
  uint64_t last_scan = now;
  for (;;) {
    now = mono_us();
    if (!w->cpu0_taken && now >= mono_ws) {
      thread_cpu_s(&w->cpu0_user, &w->cpu0_sys);
      w->cpu0_taken = 1;
    }
    if (now >= mono_we) {
      thread_cpu_s(&w->cpu1_user, &w->cpu1_sys);
      w->cpu1_taken = 1;
      if (!w->cpu0_taken) { /* the window was already over when this thread started */
        w->cpu0_user = w->cpu1_user;
        w->cpu0_sys = w->cpu1_sys;
        w->cpu0_taken = 1;
      }
      break;
    }
    /* Idle slots get a new connection; a slot that just failed waits RETRY_US first. */
    uint64_t next_retry = UINT64_MAX;
    for (int i = 0; i < w->nconns; i++) {
      struct conn *c = &w->conns[i];
      if (c->fd >= 0) continue;
      if (now >= c->retry_at) start_conn(w, c, now);
      if (c->fd < 0 && c->retry_at < next_retry) next_retry = c->retry_at;
    }
    uint64_t next_edge = now < mono_ws ? mono_ws : mono_we;
    if (next_retry < next_edge) next_edge = next_retry > now ? next_retry : now;
    int timeout_ms = (int)((next_edge - now + 999) / 1000);
    if (timeout_ms > 20) timeout_ms = 20;
    int n = epoll_wait(w->ep, events, 512, timeout_ms);
    now = mono_us();
    for (int e = 0; e < n; e++) on_event(w, &w->conns[events[e].data.u64], events[e].events, now);
    if (now - last_scan >= 20000) {
      check_timeouts(w, now);
      last_scan = now;
    }
  }
  for (int i = 0; i < w->nconns; i++)
    if (w->conns[i].fd >= 0) close_conn(w, &w->conns[i]);
  close(w->ep);
  free(w->rbuf);
  return NULL;
}

static void print_counts(const struct counts *c, int *first) {
  for (int i = 0; i < E_COUNT; i++)
    if (c->named[i] > 0) {
      printf("%s\"%s\":%llu", *first ? "" : ",", E_NAMES[i], (unsigned long long)c->named[i]);
      *first = 0;
    }
  for (int i = 0; i < 600; i++)
    if (c->status[i] > 0) {
      printf("%s\"status-%d\":%llu", *first ? "" : ",", i, (unsigned long long)c->status[i]);
      *first = 0;
    }
  for (int i = 0; i < ERRNO_MAX; i++)
    if (c->errnos[i] > 0) {
      const char *name = i == 0 ? "error" : strerrorname_np(i);
      printf("%s\"%s\":%llu", *first ? "" : ",", name != NULL ? name : "error",
             (unsigned long long)c->errnos[i]);
      *first = 0;
    }
}

static int run_clients(void) {
  struct worker *workers = calloc((size_t)opt.threads, sizeof *workers);
  struct conn *conns = calloc((size_t)opt.concurrency, sizeof *conns);
  if (workers == NULL || conns == NULL) {
    fprintf(stderr, "loadgen: out of memory\n");
    return 2;
  }
  mono_start = wall_to_mono(opt.start_at);
  mono_ws = wall_to_mono(opt.window_start);
  mono_we = wall_to_mono(opt.window_end);
  /* Hard stop: the window's end plus the timeout plus a margin. */
  int64_t left_ms = opt.window_end - wall_ms();
  alarm((unsigned)((left_ms > 0 ? left_ms : 0) / 1000 + opt.timeout_us / 1000000u + 10));
  int at = 0;
  for (int t = 0; t < opt.threads; t++) {
    struct worker *w = &workers[t];
    w->id = t;
    w->nconns = opt.concurrency / opt.threads + (t < opt.concurrency % opt.threads ? 1 : 0);
    w->conns = conns + at;
    at += w->nconns;
    if (pthread_create(&w->thread, NULL, client_thread, w) != 0) {
      perror("loadgen: pthread_create");
      return 2;
    }
  }
  for (int t = 0; t < opt.threads; t++) pthread_join(workers[t].thread, NULL);

  uint64_t hist[HIST_BUCKETS] = {0};
  struct counts counts;
  memset(&counts, 0, sizeof counts);
  uint64_t completed = 0, failed = 0, connects = 0, responses = 0, bytes = 0;
  uint64_t phase_us[4] = {0};
  double user = 0, sys = 0;
  for (int t = 0; t < opt.threads; t++) {
    struct worker *w = &workers[t];
    for (int b = 0; b < HIST_BUCKETS; b++) hist[b] += w->hist[b];
    for (int i = 0; i < E_COUNT; i++) counts.named[i] += w->counts.named[i];
    for (int i = 0; i < 600; i++) counts.status[i] += w->counts.status[i];
    for (int i = 0; i < ERRNO_MAX; i++) counts.errnos[i] += w->counts.errnos[i];
    completed += w->completed;
    for (int i = 0; i < 4; i++) phase_us[i] += w->phase_us[i];
    failed += w->failed;
    connects += w->connects;
    responses += w->responses;
    bytes += w->bytes;
    user += w->cpu1_user - w->cpu0_user;
    sys += w->cpu1_sys - w->cpu0_sys;
  }
  printf("{\"mode\":\"%s\",\"threads\":%d,\"concurrency\":%d,\"windowS\":%.6f,", opt.mode == MODE_HTTP ? "http" : "connect",
         opt.threads, opt.concurrency, (double)(mono_we - mono_ws) / 1e6);
  printf("\"completed\":%llu,\"failed\":%llu,\"connects\":%llu,\"responses\":%llu,\"bytes\":%llu,",
         (unsigned long long)completed, (unsigned long long)failed, (unsigned long long)connects,
         (unsigned long long)responses, (unsigned long long)bytes);
  printf("\"cpuUserS\":%.6f,\"cpuSysS\":%.6f,\"threadCpuS\":[", user, sys);
  for (int t = 0; t < opt.threads; t++) {
    struct worker *w = &workers[t];
    printf("%s%.6f", t == 0 ? "" : ",", (w->cpu1_user - w->cpu0_user) + (w->cpu1_sys - w->cpu0_sys));
  }
  printf("],\"phaseUs\":[%llu,%llu,%llu,%llu]", (unsigned long long)phase_us[0], (unsigned long long)phase_us[1],
         (unsigned long long)phase_us[2], (unsigned long long)phase_us[3]);
  printf(",\"errors\":{");
  int first = 1;
  print_counts(&counts, &first);
  printf("},\"histogramUs\":[");
  first = 1;
  for (int b = 0; b < HIST_BUCKETS; b++)
    if (hist[b] > 0) {
      printf("%s[%llu,%llu,%llu]", first ? "" : ",", (unsigned long long)hist_lower(b),
             (unsigned long long)hist_upper(b), (unsigned long long)hist[b]);
      first = 0;
    }
  printf("]}\n");
  fflush(stdout);
  return 0;
}

/* ------------------------------------------------------------------ origin side */

enum otype { O_LISTEN_CLOSE, O_LISTEN_HTTP, O_ECHO, O_HTTP, O_DNS };

struct oconn {
  uint8_t type;
  int fd;
  size_t got;           /* echo: bytes read; http: head bytes buffered */
  const char *out;      /* pending output */
  size_t out_len;
  int close_after;
  char buf[2048];
};

struct response {
  char *keep;
  size_t keep_len;
  char *close;
  size_t close_len;
};

static struct response resp_1k, resp_1m, resp_404;

static void make_response(struct response *r, const char *status, size_t size) {
  char head[256];
  for (int k = 0; k < 2; k++) {
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                      "Cache-Control: no-store\r\nConnection: %s\r\n\r\n",
                      status, size, k == 0 ? "keep-alive" : "close");
    char *buf = malloc((size_t)hl + size);
    if (buf == NULL) exit(2);
    memcpy(buf, head, (size_t)hl);
    for (size_t i = 0; i < size; i++) buf[(size_t)hl + i] = (char)((i * 31 + (i >> 8)) & 0xff);
    if (size == 10) memcpy(buf + hl, "not found\n", 10);
    if (k == 0) {
      r->keep = buf;
      r->keep_len = (size_t)hl + size;
    } else {
      r->close = buf;
      r->close_len = (size_t)hl + size;
    }
  }
}

static int listen_on(uint32_t host, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = host;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static void oclose(struct oconn *c) {
  close(c->fd);
  free(c);
}

/* Writes pending output; returns 1 when all is written, 0 when it must wait, -1 on error. */
static int oflush(struct oconn *c) {
  while (c->out_len > 0) {
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (n > 0) {
      c->out += n;
      c->out_len -= (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
  return 1;
}

/* Handles complete request heads in the buffer; returns -1 when the connection is done. */
static int http_serve(struct oconn *c) {
  for (;;) {
    if (c->out_len > 0) return 0;
    char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (end == NULL) return c->got >= sizeof c->buf ? -1 : 0;
    size_t head_len = (size_t)(end - c->buf) + 4;
    /* Request line: METHOD TARGET VERSION; the path is TARGET without scheme and authority. */
    char *sp1 = memchr(c->buf, ' ', head_len);
    char *sp2 = sp1 == NULL ? NULL : memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - c->buf));
    const struct response *r = &resp_404;
    int http10 = 0;
    if (sp1 != NULL && sp2 != NULL) {
      char *target = sp1 + 1;
      size_t tlen = (size_t)(sp2 - target);
      if (tlen > 7 && strncasecmp(target, "http://", 7) == 0) {
        char *slash = memchr(target + 7, '/', tlen - 7);
        tlen = slash == NULL ? 0 : tlen - (size_t)(slash - target);
        target = slash == NULL ? target : slash;
      }
      if (tlen == 3 && memcmp(target, "/1k", 3) == 0) r = &resp_1k;
      else if (tlen == 3 && memcmp(target, "/1m", 3) == 0) r = &resp_1m;
      http10 = strncmp(sp2 + 1, "HTTP/1.0", 8) == 0;
    }
    const char *conn_v = header_value(c->buf, head_len, "connection");
    int close_after = http10 ? !value_has(conn_v, c->buf + head_len, "keep-alive")
                             : value_has(conn_v, c->buf + head_len, "close");
    memmove(c->buf, c->buf + head_len, c->got - head_len);
    c->got -= head_len;
    c->out = close_after ? r->close : r->keep;
    c->out_len = close_after ? r->close_len : r->keep_len;
    c->close_after = close_after;
    int f = oflush(c);
    if (f < 0) return -1;
    if (f == 0) return 0;
    if (close_after) return -1;
  }
}

/*
 * A DNS server that answers every query NXDOMAIN (the question echoed, no records): what a site's
 * resolver says to a reverse lookup of a client address it has no name for. Proxies that look up
 * client names (Squid resolves every client address) then get an answer they can cache instead of
 * a query that stays pending until its timeout.
 */
static void dns_answer(int fd) {
  for (;;) {
    unsigned char q[512];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &flen);
    if (n < 0) return; /* EAGAIN (or an error: nothing to answer) */
    if (n < 12 || (q[2] & 0x80) != 0) continue; /* too short, or a response */
    size_t end = 12;
    int ok = q[4] == 0 && q[5] == 1; /* exactly one question */
    while (ok && end < (size_t)n && q[end] != 0) {
      if ((q[end] & 0xc0) != 0) ok = 0;
      else end += 1 + q[end];
    }
    ok = ok && end + 5 <= (size_t)n;
    size_t len = ok ? end + 5 : 12;
    q[2] = (unsigned char)(0x80 | (q[2] & 0x79)); /* QR, keep opcode and RD */
    q[3] = (unsigned char)(0x80 | (ok ? 3 : 1));  /* RA; NXDOMAIN, or FORMERR */
    if (!ok) q[4] = q[5] = 0;
    memset(q + 6, 0, 6); /* no answer, authority or additional records */
    sendto(fd, q, len, 0, (struct sockaddr *)&from, flen);
  }
}

static void origin_event(int ep, struct oconn *c, uint32_t events) {
  if (c->type == O_DNS) {
    dns_answer(c->fd);
    return;
  }
  if (c->type == O_LISTEN_CLOSE || c->type == O_LISTEN_HTTP) {
    for (;;) {
      int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      struct oconn *n = calloc(1, sizeof *n);
      if (n == NULL) {
        close(fd);
        return;
      }
      n->type = c->type == O_LISTEN_CLOSE ? O_ECHO : O_HTTP;
      n->fd = fd;
      struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = n};
      if (n->type == O_HTTP) ev.events |= EPOLLOUT;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) oclose(n);
    }
  }
  if (c->type == O_HTTP && (events & EPOLLOUT) && c->out_len > 0) {
    int f = oflush(c);
    if (f < 0 || (f == 1 && c->close_after)) {
      oclose(c);
      return;
    }
    if (f == 1 && http_serve(c) < 0) {
      oclose(c);
      return;
    }
  }
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  /* Read until EAGAIN (edge-triggered); anything else (EOF, an error, done) closes. */
  for (;;) {
    char tmp[4096];
    int echo = c->type == O_ECHO;
    if (!echo && c->got >= sizeof c->buf) break; /* a request head larger than the buffer */
    char *into = echo ? tmp : c->buf + c->got;
    ssize_t n = recv(c->fd, into, echo ? sizeof tmp : sizeof c->buf - c->got, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    c->got += (size_t)n;
    if (echo) {
      /* Echo what came; after hello_len bytes, close (the server closes first). */
      if (send(c->fd, tmp, (size_t)n, MSG_NOSIGNAL) != n || c->got >= opt.hello_len) break;
    } else if (http_serve(c) < 0) {
      break;
    }
  }
  oclose(c);
}

struct origin_thread {
  pthread_t thread;
  int ep;
};

static void *origin_loop(void *arg) {
  struct origin_thread *t = arg;
  struct epoll_event events[512];
  for (;;) {
    int n = epoll_wait(t->ep, events, 512, 1000);
    for (int e = 0; e < n; e++) origin_event(t->ep, events[e].data.ptr, events[e].events);
    if (getppid() == 1) exit(0);
  }
  return NULL;
}

static int run_origin(void) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (opt.max_seconds > 0) alarm((unsigned)opt.max_seconds);
  make_response(&resp_1k, "200 OK", 1024);
  make_response(&resp_1m, "200 OK", 1024 * 1024);
  make_response(&resp_404, "404 Not Found", 10);
  int threads = opt.threads;
  struct origin_thread *ts = calloc((size_t)threads, sizeof *ts);
  if (ts == NULL) return 2;
  for (int t = 0; t < threads; t++) {
    ts[t].ep = epoll_create1(EPOLL_CLOEXEC);
    if (ts[t].ep < 0) return 2;
  }
  /* Listeners are spread over the threads round-robin. */
  int ports[MAX_PORTS + 1];
  int nl = 0;
  for (int i = 0; i < opt.close_ports + (opt.http_server ? 1 : 0); i++) {
    struct oconn *l = calloc(1, sizeof *l);
    if (l == NULL) return 2;
    l->type = i < opt.close_ports ? O_LISTEN_CLOSE : O_LISTEN_HTTP;
    l->fd = listen_on(opt.origin_host, &ports[nl]);
    if (l->fd < 0) {
      perror("loadgen origin: listen");
      return 2;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    epoll_ctl(ts[nl % threads].ep, EPOLL_CTL_ADD, l->fd, &ev);
    nl++;
  }
  const char *dns_error = NULL;
  if (opt.dns_host != 0) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    a.sin_addr.s_addr = opt.dns_host;
    struct oconn *d = calloc(1, sizeof *d);
    if (fd < 0 || d == NULL || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      dns_error = strerrorname_np(errno);
      if (fd >= 0) close(fd);
      free(d);
    } else {
      d->type = O_DNS;
      d->fd = fd;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = d};
      epoll_ctl(ts[0].ep, EPOLL_CTL_ADD, fd, &ev);
    }
  }
  printf("{\"close\":[");
  for (int i = 0; i < opt.close_ports; i++) printf("%s%d", i == 0 ? "" : ",", ports[i]);
  printf("],\"http\":%d,\"pid\":%d,\"dns\":%s%s%s}\n", opt.http_server ? ports[opt.close_ports] : 0,
         (int)getpid(), dns_error != NULL ? "\"" : "", opt.dns_host == 0 ? "null" : dns_error != NULL ? dns_error : "\"ok\"",
         dns_error != NULL ? "\"" : "");
  fflush(stdout);
  for (int t = 1; t < threads; t++) pthread_create(&ts[t].thread, NULL, origin_loop, &ts[t]);
  origin_loop(&ts[0]);
  return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen connect|http|origin [options]\n"
          "  --proxy HOST:PORT | --direct       where clients connect\n"
          "  --origin-host ADDR                 origin address (direct clients; origin listeners)\n"
          "  --ports P1,P2,...                  origin ports (CONNECT targets; http: the first)\n"
          "  --name NAME                        name in CONNECT and Host\n"
          "  --path PATH  --expect-bytes N      http: object and its body length\n"
          "  --sources A.B.C.D,COUNT            client source addresses\n"
          "  --concurrency N  --threads T\n"
          "  --payload-file FILE                connect: bytes sent after the 200 and echoed\n"
          "  --start-at MS --window-start MS --window-end MS   wall-clock ms since the epoch\n"
          "  --timeout-ms MS  --max-ops N\n"
          "  origin: --close-ports N --hello-len N --http --dns ADDR --threads T --max-seconds S\n");
}

static int parse_ports(const char *s) {
  opt.nports = 0;
  while (*s != 0 && opt.nports < MAX_PORTS) {
    char *end;
    long p = strtol(s, &end, 10);
    if (end == s || p < 1 || p > 65535) return -1;
    opt.ports[opt.nports++] = (uint16_t)p;
    s = *end == ',' ? end + 1 : end;
    if (*end != ',' && *end != 0) return -1;
  }
  return opt.nports > 0 ? 0 : -1;
}

static int parse_addr(const char *s, uint32_t *out) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) return -1;
  *out = a.s_addr;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  if (strcmp(argv[1], "connect") == 0) opt.mode = MODE_CONNECT;
  else if (strcmp(argv[1], "http") == 0) opt.mode = MODE_HTTP;
  else if (strcmp(argv[1], "origin") == 0) opt.mode = MODE_ORIGIN;
  else {
    usage();
    return 2;
  }
  opt.threads = 1;
  opt.concurrency = 1;
  opt.timeout_us = 10000000;
  opt.src_count = 1;
  opt.src_base = 0x7f000001;
  opt.origin_host = htonl(0x7f000001);
  strcpy(opt.name, "localhost");
  strcpy(opt.path, "/1k");
  static const struct option longs[] = {
      {"proxy", 1, 0, 'p'},       {"direct", 0, 0, 'd'},        {"origin-host", 1, 0, 'o'},
      {"ports", 1, 0, 'P'},       {"name", 1, 0, 'n'},          {"path", 1, 0, 'u'},
      {"expect-bytes", 1, 0, 'e'}, {"sources", 1, 0, 's'},      {"concurrency", 1, 0, 'c'},
      {"threads", 1, 0, 't'},     {"payload-file", 1, 0, 'f'},  {"start-at", 1, 0, 'A'},
      {"window-start", 1, 0, 'S'}, {"window-end", 1, 0, 'E'},   {"timeout-ms", 1, 0, 'T'},
      {"max-ops", 1, 0, 'm'},     {"close-ports", 1, 0, 'C'},   {"hello-len", 1, 0, 'H'},
      {"http", 0, 0, 'h'},        {"max-seconds", 1, 0, 'M'},   {"dns", 1, 0, 'D'},
      {0, 0, 0, 0},
  };
  int have_proxy = 0, have_ports = 0, have_window = 0;
  optind = 2;
  int ch;
  while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (ch) {
    case 'p': {
      char host[64];
      const char *colon = strrchr(optarg, ':');
      if (colon == NULL || (size_t)(colon - optarg) >= sizeof host) goto bad;
      memcpy(host, optarg, (size_t)(colon - optarg));
      host[colon - optarg] = 0;
      opt.proxy = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
      if (parse_addr(host, &opt.proxy.sin_addr.s_addr) != 0) goto bad;
      have_proxy = 1;
      break;
    }
    case 'd': opt.direct = 1; break;
    case 'o':
      if (parse_addr(optarg, &opt.origin_host) != 0) goto bad;
      break;
    case 'P':
      if (parse_ports(optarg) != 0) goto bad;
      have_ports = 1;
      break;
    case 'n':
      if (strlen(optarg) >= sizeof opt.name) goto bad;
      strcpy(opt.name, optarg);
      break;
    case 'u':
      if (strlen(optarg) >= sizeof opt.path || optarg[0] != '/') goto bad;
      strcpy(opt.path, optarg);
      break;
    case 'e': opt.expect_bytes = strtoull(optarg, NULL, 10); break;
    case 's': {
      char host[64];
      const char *comma = strchr(optarg, ',');
      if (comma == NULL || (size_t)(comma - optarg) >= sizeof host) goto bad;
      memcpy(host, optarg, (size_t)(comma - optarg));
      host[comma - optarg] = 0;
      uint32_t a;
      if (parse_addr(host, &a) != 0) goto bad;
      opt.src_base = ntohl(a);
      opt.src_count = (uint32_t)strtoul(comma + 1, NULL, 10);
      if (opt.src_count < 1 || opt.src_count > 65536) goto bad;
      break;
    }
    case 'c': opt.concurrency = atoi(optarg); break;
    case 't': opt.threads = atoi(optarg); break;
    case 'f': {
      FILE *f = fopen(optarg, "rb");
      if (f == NULL) {
        fprintf(stderr, "loadgen: cannot read --payload-file %s: %s\n", optarg, strerror(errno));
        return 2;
      }
      opt.payload_len = fread(opt.payload, 1, sizeof opt.payload, f);
      fclose(f);
      break;
    }
    case 'A': opt.start_at = strtoll(optarg, NULL, 10); break;
    case 'S': opt.window_start = strtoll(optarg, NULL, 10); have_window |= 1; break;
    case 'E': opt.window_end = strtoll(optarg, NULL, 10); have_window |= 2; break;
    case 'T': opt.timeout_us = strtoull(optarg, NULL, 10) * 1000u; break;
    case 'm': opt.max_ops = strtoull(optarg, NULL, 10); break;
    case 'C': opt.close_ports = atoi(optarg); break;
    case 'H': opt.hello_len = strtoul(optarg, NULL, 10); break;
    case 'h': opt.http_server = 1; break;
    case 'M': opt.max_seconds = atoi(optarg); break;
    case 'D':
      if (parse_addr(optarg, &opt.dns_host) != 0) goto bad;
      break;
    default: goto bad;
    }
  }
  if (opt.threads < 1 || opt.threads > MAX_THREADS) {
    fprintf(stderr, "loadgen: --threads must be 1-%d\n", MAX_THREADS);
    return 2;
  }
  if (opt.mode == MODE_ORIGIN) {
    if (opt.close_ports < 0 || opt.close_ports > MAX_PORTS ||
        (opt.close_ports == 0 && !opt.http_server && opt.dns_host == 0) ||
        (opt.close_ports > 0 && opt.hello_len == 0)) {
      fprintf(stderr, "loadgen origin: needs --close-ports N with --hello-len, --http or --dns\n");
      return 2;
    }
    return run_origin();
  }
  if (opt.concurrency < 1 || opt.concurrency > MAX_CONNS) {
    fprintf(stderr, "loadgen: --concurrency must be 1-%d\n", MAX_CONNS);
    return 2;
  }
  if (opt.threads > opt.concurrency) opt.threads = opt.concurrency;
  if (!have_ports || (!opt.direct && !have_proxy) || have_window != 3 || opt.window_end <= opt.window_start) {
    fprintf(stderr, "loadgen: needs --ports, --proxy (or --direct), --window-start and --window-end\n");
    return 2;
  }
  if (opt.start_at == 0 || opt.start_at > opt.window_start) opt.start_at = opt.window_start;
  if (opt.mode == MODE_CONNECT && opt.payload_len == 0) {
    fprintf(stderr, "loadgen connect: needs a non-empty --payload-file\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return run_clients();
bad:
  fprintf(stderr, "loadgen: bad value for an option\n");
  usage();
  return 2;
}
