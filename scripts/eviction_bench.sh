#!/usr/bin/env bash
# What eviction costs: SET throughput and p99 of a flood of new keys with
# the memory limit reached (every SET evicts), against the same flood with
# no limit, for gocache and for Redis, in one run; and where resident
# memory settles under the flood.
#
# Each round starts four fresh servers in turn (gocache without a limit,
# gocache with LIMIT and allkeys-lru, then Redis the same two ways), fills
# each with PREFILL new keys at -P 16 (so the limited ones are at their
# limit, evicting, when measuring starts), then runs redis-benchmark SET of
# 100-byte values over 100,000,000 random keys with -c 50 at -P 1 and -P 16.
# Rounds alternate the servers (A, B, C, D, A, B, ...). Prints the medians,
# the limited/unlimited ratios (the goal: at least 0.9 for gocache, p99 at
# most twice), and for the limited servers the resident set, used_memory
# and their growth over the empty server's resident set, as a multiple of
# the limit (the goal: at most 1.05).
#
# Usage: scripts/eviction_bench.sh
#        ROUNDS=5 LIMIT=128mb scripts/eviction_bench.sh
# Finishes in a few minutes; stops every server it started by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
LIMIT=${LIMIT:-64mb}
PREFILL=${PREFILL:-1500000}
REQUESTS=${REQUESTS:-300000}
PIPELINED_REQUESTS=${PIPELINED_REQUESTS:-1500000}

source scripts/bench_lib.sh

cargo build --release --quiet
bin=target/release/gocache

rss_bytes() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
info() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# Starts server $1 (gocache or redis) with limit $2 (0: none); sets SPID
# and SPORT.
start_server() {
  local kind=$1 limit=$2 dir
  if [ "$kind" = gocache ]; then
    dir=$(mktemp -d "$work/$kind.XXXXXX")
    start_listening gocache "$bin" --port 0 --save '' --dir "$dir" --loglevel warning \
      --maxmemory "$limit" --maxmemory-policy allkeys-lru
    SPID=$LAST_PID
    SPORT=$PORT
  else
    start_redis --maxmemory "$limit" --maxmemory-policy allkeys-lru
    SPID=$RPID
    SPORT=$RPORT
  fi
}

stop_server() {
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
}

# redis-benchmark SET of new keys; prints "rps p99_ms".
flood() {
  local port=$1 pipeline=$2 n=$3
  redis-benchmark -p "$port" -t set -c 50 -P "$pipeline" -n "$n" -d 100 -r 100000000 --csv -q 2>/dev/null |
    awk -F'","' 'NR == 2 { gsub(/"/, "", $7); print $2, $7 }'
}

results="$work/results"
: >"$results"
for round in $(seq 1 "$ROUNDS"); do
  for kind in gocache redis; do
    for limit in 0 "$LIMIT"; do
      start_server "$kind" "$limit"
      empty_rss=$(rss_bytes "$SPID")
      redis-benchmark -p "$SPORT" -t set -c 50 -P 16 -n "$PREFILL" -d 100 -r 100000000 -q >/dev/null 2>&1
      for pipeline in 1 16; do
        n=$REQUESTS
        [ "$pipeline" = 16 ] && n=$PIPELINED_REQUESTS
        read -r rps p99 < <(flood "$SPORT" "$pipeline" "$n")
        echo "$kind $limit $pipeline $rps $p99" >>"$results"
      done
      if [ "$limit" != 0 ]; then
        rss=$(rss_bytes "$SPID")
        used=$(info "$SPORT" memory used_memory)
        max=$(info "$SPORT" memory maxmemory)
        evicted=$(info "$SPORT" stats evicted_keys)
        echo "mem $kind $empty_rss $rss $used $max $evicted" >>"$results"
      fi
      stop_server
    done
  done
  echo "round $round of $ROUNDS done" >&2
done

python3 - "$results" "$LIMIT" <<'EOF'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)
mem = defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "mem":
        mem[f[1]].append(tuple(int(x) for x in f[2:]))
    else:
        runs[(f[0], f[1] != "0", int(f[2]))].append((float(f[3]), float(f[4])))
med = lambda xs: statistics.median(xs)
print(f"## SET with eviction running (limit {sys.argv[2]}, allkeys-lru) against no limit\n")
print("| server | pipeline | rps, no limit | rps, at the limit | ratio | p99 ms, no limit | p99 ms, at the limit | p99 ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for kind in ("gocache", "redis"):
    for p in (1, 16):
        free, full = runs[(kind, False, p)], runs[(kind, True, p)]
        r0, r1 = med([r for r, _ in free]), med([r for r, _ in full])
        l0, l1 = med([l for _, l in free]), med([l for _, l in full])
        print(f"| {kind} | {p} | {r0:,.0f} | {r1:,.0f} | {r1 / r0:.2f} | {l0:.3f} | {l1:.3f} | {l1 / max(l0, 1e-9):.2f} |")
print("\n## Memory at the limit, after the flood\n")
print("| server | maxmemory | used_memory | resident | empty server's resident | growth / maxmemory | evicted keys |")
print("|---|---:|---:|---:|---:|---:|---:|")
for kind in ("gocache", "redis"):
    for empty, rss, used, mx, ev in mem[kind]:
        print(f"| {kind} | {mx:,} | {used:,} | {rss:,} | {empty:,} | {(rss - empty) / mx:.3f} | {ev:,} |")
EOF
echo
echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(redis-server --version | cut -d' ' -f1-3); $(date -u '+%Y-%m-%d %H:%M UTC')"
