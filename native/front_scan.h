/*
 * The only reading of network bytes the native front does before JavaScript sees them: where
 * a request head ends, and whether it can still be a CONNECT. Kept apart (pure functions, no
 * state) so that a fuzzer can run it on its own; see native/fuzz_front_scan.c.
 */
#ifndef AIRLOCK_FRONT_SCAN_H
#define AIRLOCK_FRONT_SCAN_H

#include <stdint.h>
#include <string.h>

#define SCAN_CONNECT_PREFIX "CONNECT "
/* Empty lines (CRLF) a client may send before its request line (RFC 9112 section 2.2). */
#define SCAN_MAX_LEADING_CRLF 4

/* 1: the first `len` bytes may still be a CONNECT request; 0: they cannot. */
static inline int scan_may_be_connect(const char *buf, uint32_t len) {
  uint32_t i = 0;
  while (i + 1 < len && i < 2 * SCAN_MAX_LEADING_CRLF && buf[i] == '\r' && buf[i + 1] == '\n') i += 2;
  size_t prefix = sizeof SCAN_CONNECT_PREFIX - 1;
  size_t have = len - i < prefix ? len - i : prefix;
  return memcmp(buf + i, SCAN_CONNECT_PREFIX, have) == 0;
}

/* The index just after the first CRLF CRLF in buf[0..len), or -1. */
static inline int64_t scan_head_end(const char *buf, uint32_t len) {
  if (len < 4) return -1;
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  return end == NULL ? -1 : (int64_t)(end + 4 - buf);
}

#endif
