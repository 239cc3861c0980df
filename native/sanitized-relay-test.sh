#!/usr/bin/env bash
# Builds the native relay with AddressSanitizer and UndefinedBehaviorSanitizer in a build tree of
# its own (the addon in build/Release is left alone) and runs against it the relay tests of the
# native engine, the SNI checks (the native front reads and passes ClientHellos), the
# differential test of its ClientHello reader and the front's repeat grants. Fails when a test fails or when either sanitizer
# reports anything.
#
#   native/sanitized-relay-test.sh            (after "npm ci", which builds dist/)
#
# Needs gcc with libasan and libubsan (Debian: gcc pulls them in), make and python3 (node-gyp).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

test -f dist/test/integration/relay.test.js || {
  echo "dist/ is not built: run npm ci (or npm run build) first" >&2
  exit 1
}
asan_runtime=$(gcc -print-file-name=libasan.so)
if [ ! -e "$asan_runtime" ]; then
  echo "libasan.so not found (gcc -print-file-name=libasan.so): install gcc's sanitizer runtimes" >&2
  exit 1
fi

# The sanitized tree: binding.gyp and native/ to build from; dist/ and package.json so that
# dist/src/gateway/native.js loads this tree's build/Release/airlock_native.node; node_modules
# linked from the repository.
tree=$(mktemp -d "${TMPDIR:-/tmp}/airlock-sanitized-XXXXXX")
trap 'rm -rf "$tree"' EXIT
cp -r binding.gyp package.json native dist "$tree/"
ln -s "$repo/node_modules" "$tree/node_modules"

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
echo "building the relay with $flags"
(cd "$tree" && CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" npm run --silent build:native >"$tree/build.log" 2>&1) || {
  cat "$tree/build.log" >&2
  exit 1
}
# grep reads all of nm's output (no -q): with pipefail, nm killed by SIGPIPE would fail the test.
if ! nm -D "$tree/build/Release/airlock_native.node" | grep __asan_init >/dev/null; then
  echo "the addon was built without AddressSanitizer (CFLAGS not applied)" >&2
  exit 1
fi

# The ASan runtime must be loaded before anything else in the process: node itself is not
# built with it, so it is preloaded. Leak detection is off: Node and V8 keep allocations alive
# until exit on purpose, and LeakSanitizer would report those on every run, drowning anything
# else. A report stops the process (halt_on_error, and UBSan checks are built without recovery);
# the output is also searched for reports, so that one the test runner survives still fails.
status=0
LD_PRELOAD="$asan_runtime" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1" \
  UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1" \
  timeout 100 node --test --test-name-pattern='native' "$tree/dist/test/integration/relay.test.js" \
  >"$tree/test.log" 2>&1 || status=$?
if [ "$status" = 0 ]; then
  LD_PRELOAD="$asan_runtime" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1" \
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1" \
    timeout 100 node --test --test-name-pattern='SNI|ClientHello' \
    "$tree/dist/test/integration/hardening.test.js" "$tree/dist/test/unit/gateway/front-hello-scan.test.js" \
    >>"$tree/test.log" 2>&1 || status=$?
fi
if [ "$status" = 0 ]; then
  LD_PRELOAD="$asan_runtime" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1" \
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1" \
    timeout 100 node --test "$tree/dist/test/integration/front-grants.test.js" \
    >>"$tree/test.log" 2>&1 || status=$?
fi
cat "$tree/test.log"
if grep -qE 'runtime error:|ERROR: AddressSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$tree/test.log"; then
  echo "--- the sanitizers reported (above); failing" >&2
  exit 1
fi
if [ "$status" != 0 ]; then
  echo "relay tests against the sanitized addon failed (exit $status)" >&2
  exit "$status"
fi
if ! grep -qE '^# pass [1-9]' "$tree/test.log"; then
  echo "no relay test ran against the sanitized addon" >&2
  exit 1
fi
echo "relay, SNI, ClientHello reader and repeat grant tests passed under AddressSanitizer and UndefinedBehaviorSanitizer; no reports"
