#!/usr/bin/env bash
# The issue's log-scaling check for sorted sets: ZADD, ZREM, ZSCORE, ZRANK
# and ZRANGE of 10 members timed on one sorted set of 1,000, 100,000 and
# 1,000,000 members (the cargo example zset_cost, pipelined, 100,000
# operations per command and size; ZREM removes at most half the set), as
# microseconds per operation, with the ratio of the largest size's to the
# smallest's. O(log n) gives about log(1e6)/log(1e3) = 2 (caches make it
# somewhat more); O(n) would give 1,000.
#
#   bash scripts/zset_cost.sh                 (about a minute)
#   SIZES=1000,1000000 OPS=50000 bash scripts/zset_cost.sh
#   REDIS=1 bash scripts/zset_cost.sh         (the same against redis-server too)
#
# Servers bind 127.0.0.1 on free ports and are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SIZES=${SIZES:-1000,100000,1000000}
OPS=${OPS:-100000}
build_release
cargo build --release --quiet --example zset_cost
tool=${CARGO_TARGET_DIR:-target}/release/examples/zset_cost

REDIS_PID=""
trap 'stop_gocache; [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

table() {
  # Rows "command size us": one line per command, sizes across, then the ratio.
  awk -v sizes="$SIZES" -v server="$1" '
    BEGIN { n = split(sizes, s, ",") }
    { us[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 } }
    END {
      printf "| %s |", server; for (i = 1; i <= n; i++) printf " %s members |", s[i]; printf " ratio %s/%s |\n", s[n], s[1]
      printf "|---|"; for (i = 1; i <= n; i++) printf "---:|"; printf "---:|\n"
      for (j = 1; j <= m; j++) {
        c = order[j]; printf "| %s |", c
        for (i = 1; i <= n; i++) printf " %.3f us |", us[c, s[i]]
        printf " %.2f |\n", us[c, s[n]] / us[c, s[1]]
      }
    }'
}

echo
echo "Machine: $(nproc) cores; $OPS operations per command and size, pipelined 1,000 deep"
echo
start_gocache --save '' >/dev/null
"$tool" --addr "127.0.0.1:$GOCACHE_PORT" --sizes "$SIZES" --ops "$OPS" | table gocache
stop_gocache
if [ "${REDIS:-0}" = 1 ] && command -v redis-server >/dev/null; then
  echo
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  "$tool" --addr "127.0.0.1:$port" --sizes "$SIZES" --ops "$OPS" | table redis
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""
fi
