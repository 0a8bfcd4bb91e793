#!/usr/bin/env bash
# How close INFO memory's used_memory (the keyspace's running count of the
# bytes it holds) comes to what the process really grows by: for each mode
# (no TTL, then EX 3600), a fresh release gocache is loaded with KEYS keys of
# 16 bytes (`key:000000000042`) with 16-byte values by the cargo example
# `loadgen`, and the growth of used_memory is set beside the growth of
# used_memory_rss (VmRSS) over the load.
#
#   bash scripts/used_memory.sh [KEYS]     (default 1000000; about 10 s)
#
# Servers bind 127.0.0.1 on free ports and are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

KEYS=${1:-1000000}
loadgen=${CARGO_TARGET_DIR:-target}/release/examples/loadgen
build_release
cargo build --release --quiet --example loadgen

# Prints used_memory and used_memory_rss, space-separated.
figures() {
  "$loadgen" cmd --addr "127.0.0.1:$GOCACHE_PORT" INFO memory |
    awk -F: '/^used_memory:/ {u=$2} /^used_memory_rss:/ {r=$2} END {print u+0, r+0}'
}

echo
echo "| keys | TTL | RSS growth (MiB) | used_memory growth (MiB) | used_memory / RSS growth | RSS bytes/key | used_memory bytes/key |"
echo "|---|---|---:|---:|---:|---:|---:|"
for ttl in none 3600; do
  start_gocache --snapshot-interval 0 >/dev/null
  read -r used0 rss0 < <(figures)
  extra=()
  [ "$ttl" = none ] || extra=(--ex "$ttl")
  "$loadgen" fill --addr "127.0.0.1:$GOCACHE_PORT" --keys "$KEYS" \
    --prefix key: --key-digits 12 --value-size 16 "${extra[@]}" >/dev/null
  sleep 0.5
  read -r used1 rss1 < <(figures)
  stop_gocache
  awk -v k="$KEYS" -v t="$ttl" -v u0="$used0" -v u1="$used1" -v r0="$rss0" -v r1="$rss1" 'BEGIN {
    du = u1 - u0; dr = r1 - r0; mib = 1024 * 1024
    printf "| %d | %s | %.1f | %.1f | %.3f | %.1f | %.1f |\n", k, t, dr / mib, du / mib, du / dr, dr / k, du / k
  }'
done
