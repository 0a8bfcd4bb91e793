#!/usr/bin/env bash
# How close gocache is to the floor of its own design, beside Redis.
#
# Builds scripts/floor_server.rs (std only; the cargo example floor_server,
# in release): a server with one OS thread per connection, like gocache, that
# answers +PONG and does nothing else. Starts it, a release gocache and a
# redis-server on free loopback ports, and runs `redis-benchmark -c 50 -t
# ping_mbulk` against each in turn (floor, gocache, Redis, floor, ...) for
# ROUNDS rounds, at -P 1 and -P 16. Prints the median requests per second
# and p99 for each, and the ratios gocache/floor and floor/Redis.
#
# Read it this way: gocache/floor near 1.0 means gocache's own code costs
# little beside the wake-up and context switch that a blocking thread per
# connection pays per request; floor/Redis is then the most that any
# thread-per-connection server could reach on this machine.
#
# Usage: scripts/floor.sh   (ROUNDS=3, REQUESTS=200000 at -P 1 and
#                            PIPELINED_REQUESTS=1000000 at -P 16)
#        TESTS="set lpush zadd" PIPELINES=16 scripts/floor.sh
# With TESTS, each redis-benchmark test runs instead of ping_mbulk (with
# -r 100000 -d 16, as scripts/bench.sh runs them): the floor server answers
# +PONG to each request whatever it is, which redis-benchmark counts as a
# reply, so floor/Redis is then the most a thread-per-connection server
# could reach for requests of that shape against Redis's cost for that
# command.
# Finishes in about 30 seconds per test; stops every server it started by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
PIPELINED_REQUESTS=${PIPELINED_REQUESTS:-1000000}
read -r -a TESTS <<<"${TESTS:-ping_mbulk}"
read -r -a PIPELINES <<<"${PIPELINES:-1 16}"

source scripts/bench_lib.sh

cargo build --release --quiet
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --example floor_server

start_listening floor "$target/release/examples/floor_server"
floor_port=$PORT
mkdir "$work/gocache"
# GOCACHE_BIN=path measures another build (an older one, to compare).
start_listening gocache "${GOCACHE_BIN:-$target/release/gocache}" --port 0 --snapshot-interval 0 \
  --dir "$work/gocache" --loglevel warning
gocache_port=$PORT
start_redis
redis_port=$RPORT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
echo "redis-benchmark -c 50 -t ${TESTS[*]}, -n $REQUESTS at -P 1 and -n $PIPELINED_REQUESTS at -P 16, $ROUNDS rounds"
csv="$work/results.csv"
: >"$csv"
for round in $(seq 1 "$ROUNDS"); do
  for t in "${TESTS[@]}"; do
    extra=()
    [ "$t" = ping_mbulk ] || extra=(-r 100000 -d 16)
    for p in "${PIPELINES[@]}"; do
      n=$REQUESTS
      [ "$p" = 1 ] || n=$PIPELINED_REQUESTS
      for server in floor gocache redis; do
        port_var=${server}_port
        line=$(redis-benchmark -p "${!port_var}" -c 50 -n "$n" -P "$p" -t "$t" "${extra[@]}" --csv 2>/dev/null |
          grep -v '^"test"' | tail -n 1)
        [ -n "$line" ] || { echo "redis-benchmark printed nothing against $server" >&2; exit 1; }
        echo "$server,$p,$line" >>"$csv"
      done
    done
  done
done

python3 - "$csv" <<'PY'
import csv, statistics, sys
rows, tests = {}, []
for server, p, test, rps, _avg, _min, _p50, _p95, p99, _max in csv.reader(open(sys.argv[1])):
    rows.setdefault((test, int(p), server), []).append((float(rps), float(p99)))
    if test not in tests:
        tests.append(test)
print()
print("| test | -P | floor req/s | gocache req/s | Redis req/s | gocache/floor | floor/Redis | gocache/Redis | p99 ms floor / gocache / Redis |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for test in tests:
    for p in sorted({k[1] for k in rows if k[0] == test}):
        m = {s: [statistics.median(x[i] for x in rows[(test, p, s)]) for i in range(2)] for s in ("floor", "gocache", "redis")}
        print(f"| {test} | {p} | {m['floor'][0]:,.0f} | {m['gocache'][0]:,.0f} | {m['redis'][0]:,.0f} | "
              f"{m['gocache'][0] / m['floor'][0]:.2f} | {m['floor'][0] / m['redis'][0]:.2f} | "
              f"{m['gocache'][0] / m['redis'][0]:.2f} | "
              f"{m['floor'][1]:.3f} / {m['gocache'][1]:.3f} / {m['redis'][1]:.3f} |")
PY
