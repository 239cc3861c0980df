#!/usr/bin/env bash
# Fuzzes the native front's head scanner (native/front_scan.h) with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer for a bounded time; fails on any finding.
#
#   native/fuzz-front-scan.sh [seconds]        (default 30; needs clang and libclang-rt)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/airlock-fuzz-front-XXXXXX")
trap 'rm -rf "$work"' EXIT
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -o "$work/fuzz_front_scan" native/fuzz_front_scan.c
mkdir -p "$work/corpus"
printf 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\nEARLY' > "$work/corpus/connect"
printf '\r\n\r\nCONNECT a:443 HTTP/1.1\r\n\r\n' > "$work/corpus/leading"
printf 'GET http://a/ HTTP/1.1\r\n\r\n' > "$work/corpus/get"
"$work/fuzz_front_scan" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$work/corpus" 2>&1 | tail -15
