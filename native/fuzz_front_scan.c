/*
 * libFuzzer harness for native/front_scan.h, the bytes the native front reads before handing a
 * head to JavaScript. The input is split into reads the way a socket delivers them (the first
 * byte chooses the read size), appended to a growing buffer as the front does, and after every
 * read the scanner's answers are checked against plain reference loops:
 *   - the head ends exactly after the first CRLF CRLF that follows at most four leading CRLFs
 *     (the empty lines JavaScript's parser skips before the request line), and nowhere else;
 *   - "may be a CONNECT" holds exactly when, after at most four leading CRLFs, the bytes are a
 *     prefix of "CONNECT " or start with it, and once false it stays false as bytes arrive;
 *   - the early bytes after the head are what follows it, never more than were read.
 * Build and run (CI does, bounded): see native/fuzz-front-scan.sh.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front_scan.h"

static uint32_t reference_skip(const char *b, uint32_t n) {
  uint32_t i = 0;
  for (int pairs = 0; pairs < SCAN_MAX_LEADING_CRLF && i + 1 < n && b[i] == '\r' && b[i + 1] == '\n'; pairs++)
    i += 2;
  return i;
}

static int64_t reference_end(const char *b, uint32_t n) {
  for (uint32_t i = reference_skip(b, n); i + 3 < n; i++)
    if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') return (int64_t)i + 4;
  return -1;
}

static int reference_connect(const char *b, uint32_t n) {
  uint32_t i = reference_skip(b, n);
  const char *p = SCAN_CONNECT_PREFIX;
  for (uint32_t k = 0; p[k] != 0 && i + k < n; k++)
    if (b[i + k] != p[k]) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 1 << 16) return 0;
  size_t step = (data[0] % 64) + 1;
  const char *input = (const char *)data + 1;
  size_t total = size - 1;
  /* A buffer of exactly the bytes read so far, so AddressSanitizer sees any read past them. */
  char *buf = NULL;
  uint32_t len = 0;
  int was_connect = 1;
  for (size_t at = 0; at < total; at += step) {
    size_t n = total - at < step ? total - at : step;
    char *grown = realloc(buf, len + n);
    if (grown == NULL) abort();
    buf = grown;
    memcpy(buf + len, input + at, n);
    len += (uint32_t)n;
    int64_t end = scan_head_end(buf, len);
    if (end != reference_end(buf, len)) abort();
    if (end >= 0 && (end > len || memcmp(buf + end - 4, "\r\n\r\n", 4) != 0)) abort();
    int connect = scan_may_be_connect(buf, len);
    if (connect != reference_connect(buf, len)) abort();
    if (connect && !was_connect) abort(); /* a verdict of "not a CONNECT" is final */
    was_connect = connect;
    if (end >= 0 || !connect) break; /* the front stops reading here */
  }
  free(buf);
  return 0;
}
