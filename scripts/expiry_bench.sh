#!/usr/bin/env bash
# Active-expiry benchmark (issue 3, "Goals to measure"), gocache beside Redis.
#
#   bash scripts/expiry_bench.sh [ROUNDS]      (default 3 rounds, < 5 minutes)
#
# Per round, alternating gocache and redis-server (fresh process each time):
#  (a) reclamation: 1,000 plain "hot" keys, RSS, then 500,000 keys SET with
#      PX 1000 as fast as one pipelined connection can; time from the last
#      deadline until all 500,000 are removed (INFO expired_keys, which only
#      removals advance; DBSIZE is then checked to be 0), and RSS before the
#      load, after it, and once the GET window below has ended.
#      The last deadline is taken as (send time of the last batch) + 1000 ms,
#      a lower bound, so the delay reported is an upper bound.
#  (b) no stall: from the end of the load until 1.5 s after the last
#      deadline, 10 clients GET random hot keys one request at a time;
#      p50/p99/max of each request's round trip. The same 10 clients against
#      the idle server (2 s, before the load) give the machine's noise floor.
# Once per server:
#  (c) bounded heap: the same 1,000 keys re-set with EX 3600 one million
#      times (pipelined); RSS after the first pass and after the million.
#
# Servers bind 127.0.0.1 on free ports and are stopped by PID (trap on exit).
# Redis is Debian's redis-server with --save '' --appendonly no; if it is
# missing, the script says so and measures gocache alone.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
KEYS=500000
TTL_MS=1000
HOT=1000
CLIENTS=10
BUDGET_S=280 # stop starting new rounds past this, to stay under 5 minutes

LOADGEN=${CARGO_TARGET_DIR:-target}/release/examples/loadgen
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }

say "==> building gocache (release) and the load generator"
cargo build --release --quiet
cargo build --release --quiet --example loadgen

HAVE_REDIS=1
if ! command -v redis-server >/dev/null 2>&1; then
  HAVE_REDIS=0
  say "NOTE: redis-server is not installed (Debian: apt-get install redis-server);"
  say "      measuring gocache alone, the Redis columns will read n/a."
fi

# field NAME LINE: the value of NAME=... in a loadgen output line.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

# start_server KIND: starts a fresh server; sets SERVER_PID and ADDR.
start_server() {
  local kind=$1 out="$WORK/$1.out" i
  if [ "$kind" = gocache ]; then
    target/release/gocache --port 0 --snapshot-interval 0 --dir "$WORK" >"$out" 2>"$WORK/gocache.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    ADDR=
    for i in $(seq 1 200); do
      ADDR=$(sed -n 's/^gocache listening on //p' "$out")
      [ -n "$ADDR" ] && break
      sleep 0.05
    done
  else
    local port
    port=$("$LOADGEN" free-port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$WORK" --daemonize no >"$out" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    ADDR=127.0.0.1:$port
  fi
  for i in $(seq 1 200); do
    if [ -n "$ADDR" ] && "$LOADGEN" cmd --addr "$ADDR" PING 2>/dev/null | grep -q PONG; then
      return 0
    fi
    sleep 0.05
  done
  say "ERROR: $kind did not start; its output:"
  cat "$out" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# One round of (a) and (b) against KIND; appends a line to $WORK/results.
expiry_round() {
  local kind=$1 round=$2
  start_server "$kind"
  "$LOADGEN" fill --addr "$ADDR" --keys "$HOT" --prefix hot: >/dev/null
  local base
  base=$("$LOADGEN" get-latency --addr "$ADDR" --clients "$CLIENTS" --seconds 2 --keys "$HOT" --prefix hot:)
  local rss_before rss_loaded rss_after fill last_send deadline_last window_s lat_pid reached dbsize
  rss_before=$(rss_kb "$SERVER_PID")
  fill=$("$LOADGEN" fill --addr "$ADDR" --keys "$KEYS" --prefix exp: --px "$TTL_MS" --pipeline 1000)
  rss_loaded=$(rss_kb "$SERVER_PID")
  last_send=$(field last_send_unix_ms "$fill")
  deadline_last=$((last_send + TTL_MS))
  window_s=$(awk -v end="$((deadline_last + 1500))" -v now="$(now_ms)" 'BEGIN { d = (end - now) / 1000; if (d < 0.5) d = 0.5; printf "%.3f", d }')
  "$LOADGEN" get-latency --addr "$ADDR" --clients "$CLIENTS" --seconds "$window_s" --keys "$HOT" --prefix hot: >"$WORK/lat" &
  lat_pid=$!
  reached=$("$LOADGEN" wait-info --addr "$ADDR" --section stats --field expired_keys --at-least "$KEYS" --poll-ms 5 --timeout 30)
  wait "$lat_pid"
  dbsize=$("$LOADGEN" cmd --addr "$ADDR" DBSIZE)
  rss_after=$(rss_kb "$SERVER_PID")
  local lat
  lat=$(cat "$WORK/lat")
  stop_server
  local reclaim_ms
  if [ "$(field reached "$reached")" = 1 ]; then
    reclaim_ms=$(($(field reached_unix_ms "$reached") - deadline_last))
  else
    reclaim_ms=NA
  fi
  # kind round load_ms load_ops reclaim_ms dbsize rss_before rss_loaded rss_after p50 p99 max base_p50 base_p99 base_max lat_requests
  echo "$kind $round $(field elapsed_ms "$fill") $(field ops_per_sec "$fill") $reclaim_ms $dbsize" \
    "$rss_before $rss_loaded $rss_after" \
    "$(field p50_us "$lat") $(field p99_us "$lat") $(field max_us "$lat")" \
    "$(field p50_us "$base") $(field p99_us "$base") $(field max_us "$base") $(field requests "$lat")" \
    >>"$WORK/results"
  say "    $kind round $round: load $(field elapsed_ms "$fill") ms, all removed $reclaim_ms ms after the last deadline (DBSIZE $dbsize)," \
    "RSS ${rss_before}/${rss_loaded}/${rss_after} kB, GET p99 $(field p99_us "$lat") us max $(field max_us "$lat") us" \
    "(idle: p99 $(field p99_us "$base") us max $(field max_us "$base") us)"
}

# (c) against KIND; appends "kind rss_first_pass rss_after dbsize" to $WORK/reset.
reset_loop() {
  local kind=$1
  start_server "$kind"
  "$LOADGEN" fill --addr "$ADDR" --keys 1000 --prefix re: --ex 3600 >/dev/null
  local first after out
  first=$(rss_kb "$SERVER_PID")
  out=$("$LOADGEN" fill --addr "$ADDR" --keys 1000 --total 1000000 --prefix re: --ex 3600 --pipeline 1000)
  after=$(rss_kb "$SERVER_PID")
  echo "$kind $first $after $("$LOADGEN" cmd --addr "$ADDR" DBSIZE) $(field elapsed_ms "$out")" >>"$WORK/reset"
  stop_server
  say "    $kind re-set loop: RSS $first kB -> $after kB over 1,000,000 SETs ($(field elapsed_ms "$out") ms)"
}

: >"$WORK/results"
: >"$WORK/reset"
say "==> (a)+(b) mass expiry, $ROUNDS rounds, gocache and Redis alternating"
for round in $(seq 1 "$ROUNDS"); do
  if [ "$SECONDS" -gt "$BUDGET_S" ]; then
    say "    time budget reached; stopping after $((round - 1)) rounds"
    break
  fi
  expiry_round gocache "$round"
  [ "$HAVE_REDIS" = 1 ] && expiry_round redis "$round"
done
say "==> (c) re-set the same 1,000 keys with EX 3600, 1,000,000 times"
reset_loop gocache
[ "$HAVE_REDIS" = 1 ] && reset_loop redis

# ---- report ---------------------------------------------------------------
# median KIND COLUMN: the median of a results column for one server.
median() {
  awk -v k="$1" -v c="$2" '$1 == k && $c != "NA" { print $c }' "$WORK/results" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() {
  awk -v k="$1" -v c="$2" '$1 == k && $c != "NA" { print $c }' "$WORK/results" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) printf "%s-%s", v[1], v[NR] }'
}
# cell KIND COLUMN SCALE DECIMALS: "median (min-max)" scaled.
cell() {
  local m r
  m=$(median "$1" "$2")
  [ "$m" = NA ] && { echo n/a; return; }
  r=$(range "$1" "$2")
  awk -v m="$m" -v r="$r" -v s="$3" -v d="$4" 'BEGIN {
    split(r, a, "-"); f = "%." d "f";
    printf(f " (" f "-" f ")", m / s, a[1] / s, a[2] / s) }'
}
ratio() {
  local a b
  a=$(median gocache "$1")
  b=$(median redis "$1")
  awk -v a="$a" -v b="$b" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "n/a"; else printf "%.2f", a / b }'
}
redis_cell() { if [ "$HAVE_REDIS" = 1 ]; then cell redis "$@"; else echo n/a; fi; }

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rounds_done=$(awk '$1 == "gocache"' "$WORK/results" | wc -l)
echo
echo "### Active expiry: gocache $(target/release/gocache --version | awk '{print $2}') vs $([ "$HAVE_REDIS" = 1 ] && redis-server --version | awk '{print $1, $3}' | sed 's/v=//' || echo 'Redis (not installed)')"
echo
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr); load average at start $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')."
echo "$rounds_done rounds per server, alternating; medians with (min-max); ratio = gocache / Redis (medians)."
echo
echo "| Measure | gocache | Redis | ratio |"
echo "|---|---|---|---|"
printf '| Load 500,000 SET PX 1000, pipelined (ms) | %s | %s | %s |\n' "$(cell gocache 3 1 0)" "$(redis_cell 3 1 0)" "$(ratio 3)"
printf '| All removed, ms after the last deadline (target <= 1100) | %s | %s | %s |\n' "$(cell gocache 5 1 0)" "$(redis_cell 5 1 0)" "$(ratio 5)"
printf '| DBSIZE once all were removed (the 1,000 hot keys remain) | %s | %s | |\n' "$(median gocache 6)" "$([ "$HAVE_REDIS" = 1 ] && median redis 6 || echo n/a)"
printf '| RSS before the load (MB) | %s | %s | %s |\n' "$(cell gocache 7 1024 1)" "$(redis_cell 7 1024 1)" "$(ratio 7)"
printf '| RSS loaded (MB) | %s | %s | %s |\n' "$(cell gocache 8 1024 1)" "$(redis_cell 8 1024 1)" "$(ratio 8)"
printf '| RSS after expiry (MB) | %s | %s | %s |\n' "$(cell gocache 9 1024 1)" "$(redis_cell 9 1024 1)" "$(ratio 9)"
printf '| GET p50 during expiry (ms) | %s | %s | %s |\n' "$(cell gocache 10 1000 2)" "$(redis_cell 10 1000 2)" "$(ratio 10)"
printf '| GET p99 during expiry (ms, target < 5) | %s | %s | %s |\n' "$(cell gocache 11 1000 2)" "$(redis_cell 11 1000 2)" "$(ratio 11)"
printf '| GET max during expiry (ms, target < 50) | %s | %s | %s |\n' "$(cell gocache 12 1000 1)" "$(redis_cell 12 1000 1)" "$(ratio 12)"
printf '| GET p99 idle, same clients (ms) | %s | %s | %s |\n' "$(cell gocache 14 1000 2)" "$(redis_cell 14 1000 2)" "$(ratio 14)"
printf '| GET max idle, same clients (ms) | %s | %s | %s |\n' "$(cell gocache 15 1000 1)" "$(redis_cell 15 1000 1)" "$(ratio 15)"
reset_row() {
  awk -v k="$1" '$1 == k { printf "%.1f -> %.1f", $2 / 1024, $3 / 1024 }' "$WORK/reset"
}
printf '| Re-set 1,000 keys EX 3600 x 1,000,000: RSS (MB) | %s | %s | |\n' "$(reset_row gocache)" "$([ "$HAVE_REDIS" = 1 ] && reset_row redis || echo n/a)"
echo
echo "Per round (kind round load_ms load_ops/s reclaim_ms dbsize rss_before/loaded/after_kB p50/p99/max_us idle_p50/p99/max_us GETs):"
echo
echo '```'
cat "$WORK/results"
echo '```'
