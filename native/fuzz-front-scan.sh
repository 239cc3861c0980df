#!/usr/bin/env bash
# Fuzzes what the native front reads from the network (native/front_scan.h: the request-head
# scanner and the ClientHello reader) with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer, each harness for a bounded time; fails on any finding.
#
#   native/fuzz-front-scan.sh [seconds per harness]   (default 30; needs clang and libclang-rt)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/airlock-fuzz-front-XXXXXX")
trap 'rm -rf "$work"' EXIT
for harness in fuzz_front_scan fuzz_client_hello; do
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -o "$work/$harness" "native/$harness.c"
  mkdir -p "$work/corpus-$harness"
done
head=$work/corpus-fuzz_front_scan
printf 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\nEARLY' > "$head/connect"
printf '\r\n\r\nCONNECT a:443 HTTP/1.1\r\n\r\n' > "$head/leading"
printf 'GET http://a/ HTTP/1.1\r\n\r\n' > "$head/get"
# A minimal ClientHello in one record naming "a.example" (TLS 1.2 fields, one cipher suite).
hello=$work/corpus-fuzz_client_hello
node -e '
const name = Buffer.from("a.example");
const sni = Buffer.concat([Buffer.from([0, 0, 0, name.length + 5, 0, name.length + 3, 0, 0, name.length]), name]);
const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0, 0, 2, 0x13, 1, 1, 0, 0, sni.length]), sni]);
const msg = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 255]), body]);
process.stdout.write(Buffer.concat([Buffer.from([0x16, 3, 1, msg.length >> 8, msg.length & 255]), msg]));
' > "$hello/named"
for harness in fuzz_front_scan fuzz_client_hello; do
  echo "== $harness"
  "$work/$harness" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$work/corpus-$harness" 2>&1 | tail -15
done
