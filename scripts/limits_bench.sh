#!/usr/bin/env bash
# What hostile or careless clients cost: gocache beside Redis, for the
# scenarios of the README's "Security and limits" (scripts/limits_bench.py
# says what each figure is). Builds the release binary, runs each server in
# turn (A, B, A, B) for ROUNDS rounds (default 3), a fresh process per
# scenario, and prints medians with their ranges. With BEFORE=path, a third
# server (an older gocache build) is measured too. About 2 minutes a round
# with all three; every server is stopped by its PID.
#
#   bash scripts/limits_bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release --quiet
bin="$PWD/${CARGO_TARGET_DIR:-target}/release/gocache"
servers=("gocache=$bin --port {port} --dir {dir} --save \"\" {auth}")
if [ -n "${BEFORE:-}" ]; then
  # Older builds know neither --save nor the config table's names.
  servers+=("before=$BEFORE --port {port} --dir {dir} --snapshot-interval 0 {auth}")
fi
if command -v redis-server >/dev/null; then
  servers+=("redis=redis-server --bind 127.0.0.1 --port {port} --save \"\" --appendonly no {auth}")
else
  echo "redis-server not installed: measuring gocache alone" >&2
fi
echo "machine: $(nproc) CPUs, $(uname -sr), $(date -u +%Y-%m-%d)"
timeout 3600 python3 scripts/limits_bench.py --rounds "$rounds" "${servers[@]}"
