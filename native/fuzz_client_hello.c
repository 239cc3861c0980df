/*
 * libFuzzer harness for the ClientHello reader of native/front_scan.h, the one parse of network
 * bytes the native front acts on by itself (a tunnel whose ClientHello names the CONNECT host
 * passes without JavaScript). Every input is copied into a buffer of exactly its size, so
 * AddressSanitizer sees any read past the bytes received. Checked:
 *   - an answer is one of the three, and a name lies inside the one record, 1-255 bytes of
 *     0x21-0x7e, in a record that starts as a ClientHello;
 *   - "wait for more" only while the first record has not fully arrived;
 *   - answers are final: every prefix of a named input waits, and bytes after the record
 *     change nothing;
 *   - the name comparison equals a plain reference (ASCII case, one trailing dot).
 * Differential checks against JavaScript's reader run in the project's fuzzer and unit tests
 * (fuzz/targets.ts, test/unit/gateway/front-hello-scan.test.ts).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front_scan.h"

static int scan_copy(const uint8_t *data, uint32_t len, uint32_t *off, uint32_t *n) {
  uint8_t *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL) abort();
  memcpy(copy, data, len);
  int seen = scan_client_hello(copy, len, off, n);
  free(copy);
  return seen;
}

static int reference_name_is(const uint8_t *name, uint32_t len, const char *expected, uint32_t expected_len) {
  uint32_t k;
  for (k = 0; k < len && k < expected_len; k++) {
    uint8_t c = name[k];
    if (c >= 'A' && c <= 'Z') c += 32;
    if (c != (uint8_t)expected[k]) return 0;
  }
  if (k != expected_len) return 0;
  return len == expected_len || (len == expected_len + 1 && name[expected_len] == '.');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 20000) return 0;
  uint32_t len = (uint32_t)size, off = 0, n = 0;
  int seen = scan_copy(data, len, &off, &n);
  if (seen != HELLO_MORE && seen != HELLO_NAME && seen != HELLO_OTHER) abort();
  uint32_t record = len >= 5 ? (uint32_t)data[3] << 8 | data[4] : 0;
  if (seen == HELLO_MORE && len >= 5 && len >= 5 + record) abort();
  if (seen == HELLO_NAME) {
    if (len < 9 || data[0] != 0x16 || data[5] != 0x01 || len < 5 + record) abort();
    if (n < 1 || n > 255 || off < 9 || off + n > 5 + record) abort();
    for (uint32_t k = 0; k < n; k++)
      if (data[off + k] < 0x21 || data[off + k] > 0x7e) abort();
    uint32_t cuts[] = {0, 1, 4, 5, 9, off, 5 + record - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
      uint32_t o2, n2;
      if (cuts[c] < 5 + record && scan_copy(data, cuts[c], &o2, &n2) != HELLO_MORE) abort();
    }
    if (len > 5 + record) {
      uint32_t o2 = 0, n2 = 0;
      if (scan_copy(data, 5 + record, &o2, &n2) != HELLO_NAME || o2 != off || n2 != n) abort();
    }
  }
  /* The name comparison: the first byte splits the rest into a name and an expected host. */
  if (size >= 1) {
    uint32_t split = data[0] % (uint32_t)size;
    const uint8_t *name = data + 1;
    uint32_t name_len = split > 0 ? split - 1 : 0;
    uint32_t rest = (uint32_t)size - 1 - name_len;
    char *expected = malloc(rest > 0 ? rest : 1);
    uint8_t *name_copy = malloc(name_len > 0 ? name_len : 1);
    if (expected == NULL || name_copy == NULL) abort();
    memcpy(expected, name + name_len, rest);
    memcpy(name_copy, name, name_len);
    if (hello_name_is(name_copy, name_len, expected, rest) != reference_name_is(name_copy, name_len, expected, rest)) abort();
    free(expected);
    free(name_copy);
  }
  return 0;
}
