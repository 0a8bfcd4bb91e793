#!/usr/bin/env bash
# What a deadline costs in memory, per key: for each key length, a fresh
# release gocache is loaded with 1,000,000 keys (1-byte values) set without a
# TTL, then another with `EX 3600`; the VmRSS growth over the load divided by
# the keys gives bytes per key, and the difference between the two is what
# the deadline costs (the deadline heap's hint, its table slot and its copy
# of the key). (That changing a deadline copies nothing is checked by
# tests/expiry.rs, which watches RSS over 1,000 TTL changes of one key.)
#
#   bash scripts/ttl_memory.sh [KEYS]     (default 1000000; about 30 s)
#
# Key names are `k` and a zero-padded number, 8, 11, 16 and 24 bytes long.
# Servers bind 127.0.0.1 on free ports and are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

KEYS=${1:-1000000}
loadgen=${CARGO_TARGET_DIR:-target}/release/examples/loadgen
build_release
cargo build --release --quiet --example loadgen

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$GOCACHE_PID/status"; }

# Prints the bytes per key that loading KEYS keys of length $1 adds, with
# the extra loadgen options $2... (a TTL or none).
per_key() {
  local length=$1
  shift
  start_gocache --snapshot-interval 0 >/dev/null
  local before after
  before=$(rss_kb)
  "$loadgen" fill --addr "127.0.0.1:$GOCACHE_PORT" --keys "$KEYS" \
    --prefix k --key-digits $((length - 1)) --value-size 1 "$@" >/dev/null
  after=$(rss_kb)
  stop_gocache
  echo $(((after - before) * 1024 / KEYS))
}

echo
echo "| key bytes | no TTL (B/key) | EX 3600 (B/key) | the deadline's cost (B/key) |"
echo "|---|---|---|---|"
for length in 8 11 16 24; do
  plain=$(per_key "$length")
  ttl=$(per_key "$length" --ex 3600)
  echo "| $length | $plain | $ttl | $((ttl - plain)) |"
done

