/*
 * The only reading of network bytes the native front does itself: where a request head ends,
 * whether it can still be a CONNECT, and the server name of a ClientHello in the one shape
 * clients send (one TLS record holding exactly the ClientHello). Kept apart (pure functions, no
 * state) so that a fuzzer can run them on their own; see native/fuzz_front_scan.c.
 */
#ifndef AIRLOCK_FRONT_SCAN_H
#define AIRLOCK_FRONT_SCAN_H

#include <stdint.h>
#include <string.h>

#define SCAN_CONNECT_PREFIX "CONNECT "
/* Empty lines (CRLF) a client may send before its request line (RFC 9112 section 2.2). */
#define SCAN_MAX_LEADING_CRLF 4

/*
 * Where the request line starts: after the empty lines (complete CRLFs, at most
 * SCAN_MAX_LEADING_CRLF) a client may send before it, which JavaScript's parser skips the same
 * way (src/gateway/http-head.ts).
 */
static inline uint32_t scan_line_start(const char *buf, uint32_t len) {
  uint32_t i = 0;
  while (i + 1 < len && i < 2 * SCAN_MAX_LEADING_CRLF && buf[i] == '\r' && buf[i + 1] == '\n') i += 2;
  return i;
}

/* 1: the first `len` bytes may still be a CONNECT request; 0: they cannot. */
static inline int scan_may_be_connect(const char *buf, uint32_t len) {
  uint32_t i = scan_line_start(buf, len);
  size_t prefix = sizeof SCAN_CONNECT_PREFIX - 1;
  size_t have = len - i < prefix ? len - i : prefix;
  return memcmp(buf + i, SCAN_CONNECT_PREFIX, have) == 0;
}

/*
 * The index just after the head's CRLF CRLF in buf[0..len), or -1: the first one after the
 * request line starts, as JavaScript finds it. Searching from byte 0 instead would end the head
 * at the leading empty lines and pass the real head on to the destination as tunnel bytes.
 */
static inline int64_t scan_head_end(const char *buf, uint32_t len) {
  uint32_t from = scan_line_start(buf, len);
  if (len - from < 4) return -1;
  const char *end = memmem(buf + from, len - from, "\r\n\r\n", 4);
  return end == NULL ? -1 : (int64_t)(end + 4 - buf);
}

/* ---- ClientHello ----
 * The front passes a tunnel itself when its ClientHello names the CONNECT host; everything
 * else (other names, no name, several records, anything malformed) goes to JavaScript's reader,
 * which judges it in full. So this parser only has to be exact where it answers HELLO_NAME:
 * there it accepts precisely what src/gateway/tls-client-hello.ts accepts, with the same name.
 */
#define HELLO_MORE 0  /* one record so far, not complete yet: ask again with more bytes */
#define HELLO_NAME 1  /* complete and well formed, with one host_name: *name_off, *name_len */
#define HELLO_OTHER 2 /* anything else: JavaScript's reader judges these bytes */

#define HELLO_MAX_RECORD 16384
#define HELLO_MAX_EXTENSIONS 64

static inline uint32_t hello_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

/* The host_name of a server_name extension body ext[0..len), or HELLO_OTHER. */
static inline int scan_server_name(const uint8_t *ext, uint32_t len, uint32_t base, uint32_t *name_off,
                                   uint32_t *name_len) {
  if (len < 2 || hello_be16(ext) + 2 != len) return HELLO_OTHER;
  uint32_t p = 2;
  int found = 0;
  while (p < len) {
    if (len - p < 3) return HELLO_OTHER;
    uint8_t type = ext[p];
    uint32_t n = hello_be16(ext + p + 1);
    p += 3;
    if (n > len - p) return HELLO_OTHER;
    if (type == 0) {
      if (found || n == 0 || n > 255) return HELLO_OTHER;
      for (uint32_t k = 0; k < n; k++)
        if (ext[p + k] < 0x21 || ext[p + k] > 0x7e) return HELLO_OTHER;
      found = 1;
      *name_off = base + p;
      *name_len = n;
    }
    p += n;
  }
  return found ? HELLO_NAME : HELLO_OTHER;
}

/*
 * The client's first bytes buf[0..len) of a tunnel. HELLO_NAME when they start with one TLS
 * handshake record that holds exactly one complete, well-formed ClientHello with a host_name
 * (bytes after that record are not looked at); HELLO_MORE while they are a valid start of one
 * record that has not fully arrived; HELLO_OTHER otherwise. Reads nothing past buf + len.
 */
static inline int scan_client_hello(const uint8_t *buf, uint32_t len, uint32_t *name_off, uint32_t *name_len) {
  if (len >= 1 && buf[0] != 0x16) return HELLO_OTHER;
  if (len >= 2 && buf[1] != 0x03) return HELLO_OTHER;
  if (len >= 3 && buf[2] > 0x04) return HELLO_OTHER;
  if (len < 5) return HELLO_MORE;
  uint32_t record = hello_be16(buf + 3);
  if (record == 0 || record > HELLO_MAX_RECORD) return HELLO_OTHER;
  if (len < 5 + record) return HELLO_MORE;
  const uint8_t *m = buf + 5;
  /* The record holds the handshake header and exactly the ClientHello it declares. */
  if (record < 4 || m[0] != 0x01) return HELLO_OTHER;
  uint32_t body = (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
  if (body + 4 != record) return HELLO_OTHER; /* so it is within the 16 KiB a message may have */
  uint32_t end = record, p = 4;
  if (end - p < 2 + 32 + 1) return HELLO_OTHER; /* legacy_version, random, session id length */
  p += 2 + 32;
  uint32_t session = m[p++];
  if (session > 32 || end - p < session) return HELLO_OTHER;
  p += session;
  if (end - p < 2) return HELLO_OTHER;
  uint32_t suites = hello_be16(m + p);
  p += 2;
  if (suites < 2 || suites % 2 != 0 || end - p < suites) return HELLO_OTHER;
  p += suites;
  if (end - p < 1) return HELLO_OTHER;
  uint32_t compression = m[p++];
  if (compression < 1 || end - p < compression) return HELLO_OTHER;
  p += compression;
  if (p == end) return HELLO_OTHER; /* no extensions: no server name */
  if (end - p < 2) return HELLO_OTHER;
  uint32_t extensions = hello_be16(m + p);
  p += 2;
  if (end - p != extensions) return HELLO_OTHER;
  /* Extension types seen, to refuse a type that appears twice. Clients send about twenty; a
     ClientHello with more than HELLO_MAX_EXTENSIONS goes to JavaScript. */
  uint16_t seen[HELLO_MAX_EXTENSIONS];
  uint32_t count = 0;
  int named = 0;
  while (p < end) {
    if (end - p < 4) return HELLO_OTHER;
    uint32_t type = hello_be16(m + p), n = hello_be16(m + p + 2);
    p += 4;
    if (n > end - p || count == HELLO_MAX_EXTENSIONS) return HELLO_OTHER;
    for (uint32_t k = 0; k < count; k++)
      if (seen[k] == type) return HELLO_OTHER;
    seen[count++] = (uint16_t)type;
    if (type == 0) {
      if (scan_server_name(m + p, n, 5 + p, name_off, name_len) != HELLO_NAME) return HELLO_OTHER;
      named = 1;
    }
    p += n;
  }
  return named ? HELLO_NAME : HELLO_OTHER;
}

/* 1 when the ClientHello's host_name is `expected` (a lowercase DNS name) but for ASCII case and
   one trailing dot: what normalising the name in JavaScript would make equal to it. */
static inline int hello_name_is(const uint8_t *name, uint32_t len, const char *expected, uint32_t expected_len) {
  if (len == expected_len + 1 && name[expected_len] == '.') len = expected_len;
  if (len != expected_len) return 0;
  for (uint32_t k = 0; k < len; k++) {
    uint8_t c = name[k];
    if (c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
    if (c != (uint8_t)expected[k]) return 0;
  }
  return 1;
}

#endif
