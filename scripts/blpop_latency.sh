#!/usr/bin/env bash
# Push-to-reply latency of clients blocked in BLPOP, gocache beside Redis 7
# in one run: 50 connections wait in `BLPOP queue 0`, one producer pushes
# 20,000 elements, one every 100 us, and each consumer measures how long
# after its push an element reached it (the cargo example blpop_latency).
# Rounds alternate gocache, Redis, ...; the table gives each round and the
# medians, and every round checks that each element was delivered exactly
# once.
#
#   bash scripts/blpop_latency.sh          (ROUNDS=3; about 30 s)
#   ROUNDS=5 CONSUMERS=50 MESSAGES=20000 bash scripts/blpop_latency.sh
#
# Servers bind 127.0.0.1 on free ports and are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ROUNDS=${ROUNDS:-3}
CONSUMERS=${CONSUMERS:-50}
MESSAGES=${MESSAGES:-20000}
command -v redis-server >/dev/null || { echo "needs redis-server" >&2; exit 1; }
build_release
cargo build --release --quiet --example blpop_latency
tool=${CARGO_TARGET_DIR:-target}/release/examples/blpop_latency

REDIS_PID=""
trap 'stop_gocache; [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { "$tool" --addr "127.0.0.1:$1" --consumers "$CONSUMERS" --messages "$MESSAGES"; }

echo
echo "Machine: $(nproc) cores; $CONSUMERS consumers, $MESSAGES pushes, one per 100 us"
echo
echo "| round | server | delivered | duplicates | missing | p50 us | p99 us | max us |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
results=$(mktemp)
for round in $(seq "$ROUNDS"); do
  start_gocache --save '' >/dev/null
  line=$(run "$GOCACHE_PORT")
  stop_gocache
  echo "gocache $line" >>"$results"
  echo "$line" | awk -v r="$round" -F'[ =]' '{printf "| %s | gocache | %s | %s | %s | %s | %s | %s |\n", r, $2, $4, $6, $8, $10, $12}'
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  line=$(run "$port")
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""
  echo "redis $line" >>"$results"
  echo "$line" | awk -v r="$round" -F'[ =]' '{printf "| %s | redis | %s | %s | %s | %s | %s | %s |\n", r, $2, $4, $6, $8, $10, $12}'
done
echo
for server in gocache redis; do
  grep "^$server " "$results" | awk -F'[ =]' '{print $11}' | sort -n |
    awk -v s="$server" '{v[NR]=$1} END {printf "median p99 %s: %.1f us\n", s, (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
done
rm -f "$results"
