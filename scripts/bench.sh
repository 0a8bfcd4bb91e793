#!/usr/bin/env bash
# Throughput, latency and memory of gocache beside Redis, measured in one run.
#
# Starts a release gocache and a redis-server (no persistence) on free
# loopback ports and runs redis-benchmark against each in turn (A, B, A, B)
# for ROUNDS rounds: SET, GET, INCR and MSET with -c 50, at -P 1 and -P 16.
# Prints a markdown table of medians, the gocache/Redis ratio and p50/p99
# latency, then resident bytes per key after loading 1,000,000 keys with
# 16-byte values, with and without 100 idle connections open.
#
# Usage: scripts/bench.sh   (ROUNDS=3, REQUESTS=200000 at -P 1 and
#                            PIPELINED_REQUESTS=1000000 at -P 16 by default)
#        ROUNDS=5 scripts/bench.sh
#        BEFORE=/path/to/older/gocache scripts/bench.sh
#        TESTS="set get" ROUNDS=9 BEFORE=... scripts/bench.sh
# With BEFORE, that build joins the rotation (gocache, before, Redis, ...)
# and the tables add its figures and the new/before ratio: the check that a
# change costs nothing.
# At -P 16 both servers pass a million requests a second, so those runs are
# five times longer than the -P 1 ones: 200,000 would last 0.2 s, too short
# for a stable figure.
# Finishes in a few minutes; stops every server it started by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
PIPELINED_REQUESTS=${PIPELINED_REQUESTS:-1000000}
KEYS=${KEYS:-1000000}
# TESTS="set get" picks a subset.
read -r -a TESTS <<<"${TESTS:-set get incr mset}"
PIPELINES=(1 16)

source scripts/bench_lib.sh

cargo build --release --quiet
bin=target/release/gocache

# Starts gocache with an empty directory of its own (a stopped gocache saves
# its keys there, and the next one must not load them); sets GPID and GPORT.
start_gocache() {
  local dir
  dir=$(mktemp -d "$work/gocache.XXXXXX")
  start_listening gocache "$bin" --port 0 --snapshot-interval 0 --dir "$dir" --loglevel warning
  GPID=$LAST_PID
  GPORT=$PORT
}

rss_bytes() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }

# Starts the BEFORE build like start_gocache; sets BPID and BPORT.
start_before() {
  local dir
  dir=$(mktemp -d "$work/before.XXXXXX")
  start_listening before "$BEFORE" --port 0 --snapshot-interval 0 --dir "$dir" --loglevel warning
  BPID=$LAST_PID
  BPORT=$PORT
}

SERVERS=(gocache redis)
if [ -n "${BEFORE:-}" ]; then
  SERVERS=(gocache before redis)
  start_before
fi
start_gocache
start_redis

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
echo "gocache $("$bin" --version | cut -d' ' -f2) on port $GPORT; $(redis-server --version | cut -d' ' -f1-3) on port $RPORT"
echo "redis-benchmark -c 50 -r 100000 -d 16, -n $REQUESTS at -P 1 and -n $PIPELINED_REQUESTS at -P 16, $ROUNDS rounds, alternating gocache and Redis"
echo

csv="$work/results.csv"
: >"$csv"
for round in $(seq 1 "$ROUNDS"); do
  for p in "${PIPELINES[@]}"; do
    for t in "${TESTS[@]}"; do
      for server in "${SERVERS[@]}"; do
        port=$GPORT
        [ "$server" = redis ] && port=$RPORT
        [ "$server" = before ] && port=$BPORT
        n=$REQUESTS
        [ "$p" = 1 ] || n=$PIPELINED_REQUESTS
        line=$(redis-benchmark -p "$port" -c 50 -n "$n" -r 100000 -d 16 -P "$p" -t "$t" --csv 2>/dev/null |
          grep -v '^"test"' | tail -n 1)
        if [ -z "$line" ]; then
          echo "redis-benchmark printed nothing for $t -P $p against $server" >&2
          exit 1
        fi
        echo "$server,$p,$round,$line" >>"$csv"
      done
    done
  done
  echo "round $round done" >&2
done

python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = {}
for r in csv.reader(open(sys.argv[1])):
    server, p, _round, test, rps, _avg, _min, p50, _p95, p99, _max = r
    test = test.split()[0]
    rows.setdefault((test, int(p), server), []).append((float(rps), float(p50), float(p99)))
before = any(k[2] == "before" for k in rows)
if before:
    print("| test | -P | gocache req/s | before req/s | new/before | Redis req/s | ratio | gocache p50/p99 ms | before p50/p99 ms | Redis p50/p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
else:
    print("| test | -P | gocache req/s | Redis req/s | ratio | gocache p50/p99 ms | Redis p50/p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
ratios = []
for (test, p) in sorted({(k[0], k[1]) for k in rows}, key=lambda k: (k[1], ["SET", "GET", "INCR", "MSET"].index(k[0]) if k[0] in ["SET", "GET", "INCR", "MSET"] else 9)):
    med = {}
    for s in (("gocache", "before", "redis") if before else ("gocache", "redis")):
        v = rows[(test, p, s)]
        med[s] = tuple(statistics.median(x[i] for x in v) for i in range(3))
    ratio = med["gocache"][0] / med["redis"][0]
    ratios.append((test, p, ratio, med["gocache"][2] <= med["redis"][2]))
    lat = lambda s: f"{med[s][1]:.3f} / {med[s][2]:.3f}"  # noqa: E731
    if before:
        print(f"| {test} | {p} | {med['gocache'][0]:,.0f} | {med['before'][0]:,.0f} | "
              f"{med['gocache'][0] / med['before'][0]:.2f} | {med['redis'][0]:,.0f} | {ratio:.2f} | "
              f"{lat('gocache')} | {lat('before')} | {lat('redis')} |")
    else:
        print(f"| {test} | {p} | {med['gocache'][0]:,.0f} | {med['redis'][0]:,.0f} | {ratio:.2f} | "
              f"{lat('gocache')} | {lat('redis')} |")
low = min(ratios, key=lambda r: r[2])
print()
print(f"summary: gocache/Redis throughput ratio from {low[2]:.2f} ({low[0]} -P {low[1]}) to "
      f"{max(r[2] for r in ratios):.2f}; p99 no worse than Redis in {sum(r[3] for r in ratios)} of {len(ratios)} tests")
PY

# Memory: a fresh server of each kind, loaded with the same keys.
echo
echo "resident bytes per key, $KEYS keys of 16 bytes with 16-byte values (VmRSS, /proc/PID/status):"
python3 - "$KEYS" >"$work/load.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
value = "v" * 16
for i in range(n):
    key = "key:%012d" % i
    out.write("*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$16\r\n%s\r\n" % (key, value))
PY
kill "$GPID" "$RPID"; wait "$GPID" "$RPID" 2>/dev/null || true
if [ -n "${BEFORE:-}" ]; then
  kill "$BPID"; wait "$BPID" 2>/dev/null || true
  start_before
fi
start_gocache
start_redis
echo "| server | RSS before | RSS after load | bytes/key | RSS with 100 idle connections | bytes/key then |"
echo "|---|---:|---:|---:|---:|---:|"
for server in "${SERVERS[@]}"; do
  pid=$GPID; port=$GPORT
  [ "$server" = redis ] && { pid=$RPID; port=$RPORT; }
  [ "$server" = before ] && { pid=$BPID; port=$BPORT; }
  before=$(rss_bytes "$pid")
  redis-cli -p "$port" --pipe <"$work/load.resp" >/dev/null
  n=$(redis-cli -p "$port" dbsize)
  [ "$n" = "$KEYS" ] || { echo "$server holds $n keys, expected $KEYS" >&2; exit 1; }
  sleep 0.5
  after=$(rss_bytes "$pid")
  # 100 idle connections, each having sent one PING so its buffers exist.
  python3 - "$port" "$work/hold.$server" <<'PY' &
import socket, sys, time, os
socks = []
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    s.recv(16)
    socks.append(s)
open(sys.argv[2], "w").close()
deadline = time.time() + 30
while os.path.exists(sys.argv[2]) and time.time() < deadline:
    time.sleep(0.05)
PY
  holder=$!
  for _ in $(seq 1 200); do [ -e "$work/hold.$server" ] && break; sleep 0.05; done
  sleep 0.3
  with_conns=$(rss_bytes "$pid")
  rm -f "$work/hold.$server"; wait "$holder" || true
  python3 -c "
b, a, c, n = $before, $after, $with_conns, $KEYS
print(f'| $server | {b/2**20:.1f} MiB | {a/2**20:.1f} MiB | {(a-b)/n:.1f} | {c/2**20:.1f} MiB | {(c-b)/n:.1f} |')"
done
