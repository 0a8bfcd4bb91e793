#!/usr/bin/env bash
# Fuzz gocache: build the release binary and scripts/fuzz.rs (the cargo
# example fuzz), start one server on a free loopback port with a scratch
# --dir, and let the fuzzer send it seeded random and mutated traffic (RESP
# and inline, clean and malformed, pipelined) until a time or request budget
# runs out. After every batch the fuzzer checks that the server answers PING,
# still holds a canary key, stays under an RSS bound and has logged no panic;
# at the end this script checks that the process is alive and that its stderr
# has no "panicked at", stops it by its PID and prints a short report. Exits
# non-zero on any failure.
#
# Usage: bash scripts/fuzz.sh [SECONDS] [REQUESTS]
#   SECONDS   wall-clock budget of the fuzzer (default 30)
#   REQUESTS  request budget (default 400000: about 25 s on 2 cores, so on a
#             slower machine the 30 s budget ends the run first); the fuzzer
#             stops at whichever runs out first, and is itself killed by
#             `timeout` 120 s after SECONDS.
# Environment:
#   SEED=N             the seed (default: the fuzzer's fixed one, printed)
#   FUZZ_REQUIREPASS=1 start the server with --requirepass fuzzpass: the
#                      fuzzer's traffic is then mostly unauthenticated, its
#                      check connection logs in with the password
#   FUZZ_BATCH=N       requests between checks (default 500)
#   FUZZ_MAX_RSS_MB=M  RSS bound (default 512: what the fuzzer stores stays in
#                      the tens of megabytes, see scripts/fuzz.rs)
#
# To reproduce a failure, rerun with the seed and request count it printed:
#   SEED=N bash scripts/fuzz.sh SECONDS REQUESTS
# the same seed and budget send the same requests (the summary's stream= hash
# shows it). Before a release, run a long pass:
#   bash scripts/fuzz.sh 600 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

seconds=${1:-30}
requests=${2:-400000}
case "$seconds$requests" in
  *[!0-9]*) echo "usage: bash scripts/fuzz.sh [SECONDS] [REQUESTS] (whole numbers)" >&2; exit 2 ;;
esac

build_release
echo "building scripts/fuzz.rs (cargo example fuzz)"
cargo build --release --quiet --example fuzz
fuzzer="${CARGO_TARGET_DIR:-target}/release/examples/fuzz"

server_flags=()
fuzz_flags=(--seconds "$seconds" --requests "$requests"
  --batch "${FUZZ_BATCH:-500}" --max-rss-mb "${FUZZ_MAX_RSS_MB:-512}")
if [ -n "${SEED:-}" ]; then
  fuzz_flags+=(--seed "$SEED")
fi
if [ "${FUZZ_REQUIREPASS:-0}" = 1 ]; then
  server_flags+=(--requirepass fuzzpass)
  fuzz_flags+=(--password fuzzpass)
fi

start_gocache "${server_flags[@]}"
log="$GOCACHE_TMP/stderr"

fail=0
status=0
timeout --kill-after=10 $((seconds + 120)) "$fuzzer" \
  --addr "127.0.0.1:$GOCACHE_PORT" --pid "$GOCACHE_PID" --server-log "$log" \
  "${fuzz_flags[@]}" | tee "$GOCACHE_TMP/fuzz.out" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "FAIL the fuzzer did not finish within $((seconds + 120)) s" >&2
  fail=1
elif [ "$status" -ne 0 ]; then
  echo "FAIL the fuzzer exited with status $status" >&2
  fail=1
fi

alive=yes
if ! kill -0 "$GOCACHE_PID" 2>/dev/null; then
  echo "FAIL the server died" >&2
  alive=no
  fail=1
fi
if grep -q "panicked at" "$log"; then
  echo "FAIL the server panicked:" >&2
  grep -m 3 -A 3 "panicked at" "$log" >&2
  fail=1
fi

# The fuzzer's last line is its summary (seed, requests, RSS...); this adds
# what only the server's side shows.
# (Protocol errors are logged at verbose only, so the fuzzer's server_closes
# counts them; warnings the server wrote are counted here.)
echo "report: server alive=$alive, panics=$(grep -c "panicked at" "$log" || true)," \
  "warnings logged=$(grep -c "\[warning\]" "$log" || true)," \
  "saves done=$(grep -c "save.*done" "$log" || true)"
stop_gocache
if [ "$fail" -ne 0 ]; then
  echo "fuzz FAILED" >&2
  exit 1
fi
echo "fuzz passed"
