#!/usr/bin/env bash
# Snapshot cost on this machine: gocache against Redis's BGSAVE.
#
# Builds gocache and the load generator (scripts/loadgen.rs, std only, the
# cargo example `loadgen`) in release, starts gocache and redis-server on free
# loopback ports, loads the same KEYS keys (default 1,000,000; key:0000000 ..)
# of distinct 16-byte values into each, then alternates gocache and Redis:
#   - one save while a client times every SET and the server's memory is
#     sampled (loadgen save-latency): gocache BGSAVE, Redis BGSAVE, gocache
#     SAVE, ROUNDS times;
#   - a restart on the saved file, timed from exec to the ready line (loadgen
#     ready-time), ROUNDS times each.
# Prints a markdown table of medians and gocache/Redis ratios, and the issue's
# targets. Everything lives in a temporary directory under target/ (the same
# disk the build uses), every server is stopped by PID on exit, and a watchdog
# ends the run after BUDGET seconds (default 290).
#
# Usage: scripts/snapshot_bench.sh        (KEYS=... ROUNDS=... BUDGET=... to change)
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${KEYS:-1000000}
ROUNDS=${ROUNDS:-3}
BUDGET=${BUDGET:-290}

pids=()
tmp=""
watchdog=""
cleanup() {
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null || true
  [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "snapshot_bench: stopped (time budget of ${BUDGET}s or a signal)" >&2; exit 1' TERM INT
# The watchdog's sleep must not hold the script's stdout open after the end.
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "$BUDGET" &
  nap=$!
  wait "$nap" && kill -TERM $$
) >/dev/null 2>&1 &
watchdog=$!

have_redis=1
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  have_redis=0
  echo "NOTE: redis-server or redis-cli is missing: measuring gocache alone, no Redis column." >&2
fi

echo "building gocache (release) and the load generator..." >&2
cargo build --release --quiet
cargo build --release --quiet --example loadgen
mkdir -p target
loadgen=${CARGO_TARGET_DIR:-target}/release/examples/loadgen
# The keys every loadgen run below fills, rewrites or reads.
keyopts=(--keys "$KEYS" --prefix key: --key-digits 7 --value-size 16 --values distinct)
tmp=$(mktemp -d -p "$PWD/target" snapshot-bench.XXXXXX)
mkdir -p "$tmp/gocache" "$tmp/redis"

gocache_cmd() { echo target/release/gocache --port "$1" --dir "$tmp/gocache" --snapshot-interval 0; }

wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 600); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "snapshot_bench: $what did not come up" >&2
  exit 1
}

gport=$("$loadgen" free-port)
target/release/gocache --port "$gport" --dir "$tmp/gocache" --snapshot-interval 0 \
  >"$tmp/gocache.out" 2>"$tmp/gocache.err" &
gpid=$!
pids+=("$gpid")
wait_for gocache grep -q "listening on" "$tmp/gocache.out"

if [ "$have_redis" = 1 ]; then
  rport=$("$loadgen" free-port)
  redis-server --save '' --appendonly no --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" \
    >"$tmp/redis.out" 2>&1 &
  rpid=$!
  pids+=("$rpid")
  wait_for redis-server sh -c "redis-cli -p $rport PING | grep -q PONG"
fi

echo "loading $KEYS keys of 16-byte values..." >&2
echo "  gocache: $("$loadgen" fill --addr "127.0.0.1:$gport" "${keyopts[@]}")" >&2
[ "$have_redis" = 1 ] && echo "  redis:   $("$loadgen" fill --addr "127.0.0.1:$rport" "${keyopts[@]}")" >&2

# field NAME LINE: the value of NAME=... in LINE
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="-" || b=="-" || b==0) print "-"; else printf "%.2f\n", a/b }'; }
memratio() { awk -v p="$(field mem_peak_kb "$1")" -v b="$(field mem_before_kb "$1")" -v h="$(field hwm_kb "$1")" \
  'BEGIN { if (h>p) p=h; printf "%.3f\n", p/b }'; }

measure() { # PORT PID save|bgsave
  "$loadgen" save-latency --addr "127.0.0.1:$1" --pid "$2" --command "$3" "${keyopts[@]}"
}

declare -a g_bg r_bg g_sv
for round in $(seq 1 "$ROUNDS"); do
  echo "save round $round/$ROUNDS..." >&2
  line=$(measure "$gport" "$gpid" bgsave); g_bg+=("$line"); echo "  gocache BGSAVE: $line" >&2
  if [ "$have_redis" = 1 ]; then
    line=$(measure "$rport" "$rpid" bgsave); r_bg+=("$line"); echo "  redis   BGSAVE: $line" >&2
  fi
  line=$(measure "$gport" "$gpid" save); g_sv+=("$line"); echo "  gocache SAVE:   $line" >&2
done
gsize=$(stat -c %s "$tmp/gocache/dump.gcs")
rsize="-"
[ "$have_redis" = 1 ] && rsize=$(stat -c %s "$tmp/redis/dump.rdb")
rcow="-"
[ "$have_redis" = 1 ] && rcow=$(redis-cli -p "$rport" INFO persistence | tr -d '\r' | sed -n 's/^rdb_last_cow_size://p')

# Stop both (by PID) before timing restarts on their files.
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
pids=()

declare -a g_load r_load
for round in $(seq 1 "$ROUNDS"); do
  echo "restart round $round/$ROUNDS..." >&2
  p=$("$loadgen" free-port)
  line=$(timeout 120 "$loadgen" ready-time --pattern "listening on" -- $(gocache_cmd "$p")); g_load+=("$(field ready_ms "$line")")
  echo "  gocache: $line" >&2
  if [ "$have_redis" = 1 ]; then
    p=$("$loadgen" free-port)
    line=$(timeout 120 "$loadgen" ready-time --pattern "Ready to accept connections" -- \
      redis-server --save '' --appendonly no --port "$p" --bind 127.0.0.1 --dir "$tmp/redis")
    r_load+=("$(field ready_ms "$line")")
    echo "  redis:   $line" >&2
  fi
done

col() { # NAME, lines...: the NAME field of each line
  local name=$1; shift
  for l in "$@"; do field "$name" "$l"; done | tr '\n' ' '
}
memcol() { for l in "$@"; do memratio "$l"; done | tr '\n' ' '; }

g_save=$(col save_ms "${g_bg[@]}" | median)
g_savesync=$(col save_ms "${g_sv[@]}" | median)
g_max=$(col max_set_ms "${g_bg[@]}" | median)
g_max_sync=$(col max_set_ms "${g_sv[@]}" | median)
g_p99=$(col p99_set_ms "${g_bg[@]}" | median)
g_mem=$(memcol "${g_bg[@]}" | median)
g_mem_sync=$(memcol "${g_sv[@]}" | median)
g_ld=$(echo "${g_load[*]}" | median)
r_save="-"; r_max="-"; r_p99="-"; r_mem="-"; r_ld="-"
if [ "$have_redis" = 1 ]; then
  r_save=$(col save_ms "${r_bg[@]}" | median)
  r_max=$(col max_set_ms "${r_bg[@]}" | median)
  r_p99=$(col p99_set_ms "${r_bg[@]}" | median)
  r_mem=$(memcol "${r_bg[@]}" | median)
  r_ld=$(echo "${r_load[*]}" | median)
fi
worst() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
g_max_worst=$(col max_set_ms "${g_bg[@]}" "${g_sv[@]}" | worst)
g_mem_worst=$(memcol "${g_bg[@]}" "${g_sv[@]}" | worst)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$have_redis" = 1 ]; then
  echo "Data: $KEYS keys of 16-byte values; medians of $ROUNDS runs each, gocache and Redis alternating."
else
  echo "Data: $KEYS keys of 16-byte values; medians of $ROUNDS runs each, gocache only (no redis-server)."
fi
[ "$have_redis" = 1 ] && echo "Redis: $(redis-server --version | cut -d' ' -f3), rdb_last_cow_size after the last BGSAVE: $rcow bytes."
echo
echo "| measure | gocache | Redis 7 | gocache / Redis |"
echo "|---|---:|---:|---:|"
echo "| BGSAVE, from the command until INFO says done (ms) | $g_save | $r_save | $(ratio "$g_save" "$r_save") |"
echo "| SAVE, until its OK (ms) | $g_savesync | - | - |"
echo "| max SET latency during BGSAVE (ms) | $g_max | $r_max | $(ratio "$g_max" "$r_max") |"
echo "| p99 SET latency during BGSAVE (ms) | $g_p99 | $r_p99 | $(ratio "$g_p99" "$r_p99") |"
echo "| max SET latency during SAVE (ms) | $g_max_sync | - | - |"
echo "| peak memory during BGSAVE / before | $g_mem | $r_mem | - |"
echo "| peak memory during SAVE / before | $g_mem_sync | - | - |"
echo "| snapshot file (bytes) | $gsize | $rsize | $(ratio "$gsize" "$rsize") |"
echo "| restart on the file, exec to ready (ms) | $g_ld | $r_ld | $(ratio "$g_ld" "$r_ld") |"
echo
verdict() { if awk -v a="$1" -v b="$2" "BEGIN { exit !(a $3 b) }"; then echo "met"; else echo "MISSED"; fi; }
echo "Targets (from issue 4):"
if [ "$have_redis" = 1 ]; then
  echo "- a save takes no longer than Redis's BGSAVE: $(verdict "$g_save" "$r_save" '<=') ($g_save ms vs $r_save ms)"
fi
echo "- max SET latency during a save < 50 ms: $(verdict "$g_max_worst" 50 '<') (worst of all gocache runs: $g_max_worst ms)"
echo "- peak memory during a save < 1.3x before: $(verdict "$g_mem_worst" 1.3 '<') (worst of all gocache runs: ${g_mem_worst}x)"
echo "- loading the snapshot at start < 1 s: $(verdict "$g_ld" 1000 '<') ($g_ld ms, exec to listening line)"
