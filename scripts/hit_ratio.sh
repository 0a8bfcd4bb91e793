#!/usr/bin/env bash
# Cache hit ratios of maxmemory eviction policies, gocache beside Redis 7,
# with exact LRU, exact LFU and exact S3-FIFO caches of the same size as
# yardsticks.
#
#   bash scripts/hit_ratio.sh
#
# Each trace (see the doc comment of scripts/cache_trace.rs for their exact
# definitions) is replayed cache-aside by `cache_trace replay` (GET; on a
# miss, SET of a 100-byte value; pipelined in batches of BATCH) against a
# fresh server per (trace, policy), Redis then gocache, both limited to the
# same MAXMEMORY. MAXMEMORY is sized on Redis: the used_memory of a fresh
# Redis after SETting KEYS*FRACTION keys of the trace's kind, so Redis holds
# about FRACTION of the key space. `cache_trace simulate` then runs the same
# trace through an exact LRU, LFU and S3-FIFO cache whose capacity is the
# DBSIZE Redis had at the end of its allkeys-lru run (and, second figure,
# gocache's DBSIZE at the end of its allkeys-lru run).
#
# Knobs (environment):
#   REQUESTS        requests per trace (default 1000000)
#   KEYS            key space of the Zipf draws (default 1000000)
#   TRACES          traces (default "zipf0.8 zipf1.0 scan")
#   POLICIES        policies run on both servers
#                   (default "allkeys-lru allkeys-lfu allkeys-random")
#   EXTRA_POLICIES  policies run on gocache only (default "allkeys-s3fifo",
#                   gocache's own; set it empty for none)
#   GOCACHE         gocache binary (default: `cargo build --release`, then
#                   target/release/gocache)
#   FRACTION        share of KEYS the memory limit holds (default 0.10)
#   SEED            trace seed (default 1)
#   BATCH           replay pipeline depth (default 64)
#
# A gocache that refuses the flags (no eviction yet), fails to build, dies
# or errors during a replay gets "n/a" and the script carries on.
# Servers bind 127.0.0.1 on free ports; every process started here is
# stopped by its PID (EXIT trap). Scratch files live in a mktemp -d
# directory, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-1000000}
KEYS=${KEYS:-1000000}
TRACES=${TRACES:-"zipf0.8 zipf1.0 scan"}
POLICIES=${POLICIES:-"allkeys-lru allkeys-lfu allkeys-random"}
EXTRA_POLICIES=${EXTRA_POLICIES-allkeys-s3fifo}
GOCACHE=${GOCACHE:-}
FRACTION=${FRACTION:-0.10}
SEED=${SEED:-1}
BATCH=${BATCH:-64}

TMP=$(mktemp -d)
TOOL="$TMP/cache_trace"
SERVER_PID=""   # the one server running at a time, if any
SERVER_ADDR=""
GOCACHE_WHY=""  # why gocache is n/a, when it is

# --- process control --------------------------------------------------------

# Stops the running server (by its PID only) and waits for it to exit.
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  [ -z "$SERVER_PID" ] || wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  SERVER_ADDR=""
}

cleanup() {
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT

# Starts redis-server with maxmemory $1 and policy $2; fatal if it fails.
start_redis() {
  local port dir
  dir=$(mktemp -d "$TMP/redis.XXXXXX")

  port=$("$TOOL" freeport)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --maxmemory "$1" --maxmemory-policy "$2" --dir "$dir" \
    >"$dir/log" 2>&1 &
  SERVER_PID=$!
  SERVER_ADDR="127.0.0.1:$port"
  if ! "$TOOL" wait --addr "$SERVER_ADDR" --timeout-ms 10000; then
    echo "redis-server did not start:" >&2
    cat "$dir/log" >&2
    exit 1
  fi
}

# Starts gocache with maxmemory $1 and policy $2 and reads its port from
# its first stdout line. Returns 1, with the reason in GOCACHE_WHY, if it
# exits (e.g. refusing a flag) or stays silent for 20 s.
start_gocache() {
  local line="" dir
  dir=$(mktemp -d "$TMP/gocache.XXXXXX")
  mkdir -p "$dir/data"
  GOCACHE_WHY=""
  "$GOCACHE" --port 0 --save '' --dir "$dir/data" \
    --maxmemory "$1" --maxmemory-policy "$2" \
    >"$dir/stdout" 2>"$dir/stderr" &
  SERVER_PID=$!
  for _ in $(seq 200); do
    line=$(head -n 1 "$dir/stdout" 2>/dev/null || true)
    case "$line" in "gocache listening on "*:*) break ;; esac
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      GOCACHE_WHY="exited: $(head -n 1 "$dir/stderr")"
      stop_server
      return 1
    fi
    sleep 0.1
  done
  case "$line" in
    "gocache listening on "*:*) SERVER_ADDR="127.0.0.1:${line##*:}" ;;
    *) GOCACHE_WHY="no listening line within 20 s"; stop_server; return 1 ;;
  esac
}

# --- helpers ----------------------------------------------------------------

# Value of field $1 in a line of name=value pairs ($2).
field() {
  local pair
  for pair in $2; do
    case "$pair" in "$1="*) echo "${pair#*=}"; return ;; esac
  done
  echo "-"
}

# Compiles cache_trace and finds (or builds) the gocache binary.
build_tools() {
  echo "compiling scripts/cache_trace.rs"
  rustc -O --edition 2021 -o "$TOOL" scripts/cache_trace.rs
  if [ -z "$GOCACHE" ]; then
    echo "building gocache (cargo build --release)"
    if cargo build --release --quiet; then
      GOCACHE="${CARGO_TARGET_DIR:-target}/release/gocache"
    else
      echo "gocache did not build: its columns will be n/a" >&2
      GOCACHE=""
    fi
  fi
}

# --- sizing -----------------------------------------------------------------

# Sets MAXMEMORY from a Redis filled with KEYS*FRACTION keys; also shows
# what the same fill costs in gocache's used_memory accounting.
size_maxmemory() {
  local count before after stats
  count=$(awk -v k="$KEYS" -v f="$FRACTION" 'BEGIN { printf "%d", k * f }')
  start_redis 0 noeviction
  before=$(field used_memory "$("$TOOL" stats --addr "$SERVER_ADDR")")
  "$TOOL" fill --addr "$SERVER_ADDR" --count "$count" --keys "$KEYS" >/dev/null
  stats=$("$TOOL" stats --addr "$SERVER_ADDR")
  after=$(field used_memory "$stats")
  stop_server
  MAXMEMORY=$after
  FILL_COUNT=$count
  echo "sizing: Redis used_memory $before fresh, $after after $count keys" \
    "($(field dbsize "$stats") held): MAXMEMORY=$MAXMEMORY" \
    "($(awk -v a="$after" -v b="$before" -v c="$count" 'BEGIN { printf "%.1f", (a - b) / c }') bytes/key)"
  if [ -n "$GOCACHE" ] && start_gocache 0 noeviction; then
    before=$(field used_memory "$("$TOOL" stats --addr "$SERVER_ADDR")")
    "$TOOL" fill --addr "$SERVER_ADDR" --count "$count" --keys "$KEYS" >/dev/null
    after=$(field used_memory "$("$TOOL" stats --addr "$SERVER_ADDR")")
    stop_server
    echo "sizing: gocache used_memory $before fresh, $after after the same fill" \
      "($(awk -v a="$after" -v b="$before" -v c="$count" 'BEGIN { printf "%.1f", (a - b) / c }') bytes/key)"
  fi
}

# --- runs -------------------------------------------------------------------

declare -A RATIO DBSIZE USED EVICTED ERRORS SECS POLICY_SEEN

# Records replay output $2 under key $1 (server,trace,policy).
record() {
  RATIO[$1]=$(field ratio "$2")
  DBSIZE[$1]=$(field dbsize "$2")
  USED[$1]=$(field used_memory "$2")
  EVICTED[$1]=$(field evicted_keys "$2")
  ERRORS[$1]=$(field set_errors "$2")
  SECS[$1]=$(field seconds "$2")
  POLICY_SEEN[$1]=$(field maxmemory_policy "$2")
}

# Replays trace $1 on the running server.
replay() {
  "$TOOL" replay --addr "$SERVER_ADDR" --trace "$1" --requests "$REQUESTS" \
    --keys "$KEYS" --seed "$SEED" --batch "$BATCH"
}

# One Redis run: trace $1, policy $2.
run_redis() {
  local out
  start_redis "$MAXMEMORY" "$2"
  out=$(replay "$1")
  stop_server
  record "redis,$1,$2" "$out"
  echo "  redis   $2: $out"
}

# One gocache run: trace $1, policy $2; n/a when gocache cannot do it.
run_gocache() {
  local out
  if [ -z "$GOCACHE" ]; then
    RATIO[gocache,$1,$2]="n/a"
    echo "  gocache $2: n/a (no binary)"
    return
  fi
  if ! start_gocache "$MAXMEMORY" "$2"; then
    RATIO[gocache,$1,$2]="n/a"
    echo "  gocache $2: n/a ($GOCACHE_WHY)"
    return
  fi
  if ! out=$(replay "$1" 2>&1); then
    stop_server
    RATIO[gocache,$1,$2]="n/a"
    echo "  gocache $2: n/a (replay failed: $out)"
    return
  fi
  stop_server
  record "gocache,$1,$2" "$out"
  echo "  gocache $2: $out"
  # A build that takes the flags but does not yet report them in INFO.
  if [ "${POLICY_SEEN[gocache,$1,$2]}" != "$2" ]; then
    echo "  note: gocache's INFO says maxmemory_policy=${POLICY_SEEN[gocache,$1,$2]}, not $2"
  fi
}

# Exact LRU, LFU and S3-FIFO of capacity $2 on trace $1; stores under
# sim,$1,$3.
run_sims() {
  local p out
  for p in lru lfu s3fifo; do
    if [[ "$2" =~ ^[0-9]+$ ]]; then
      out=$("$TOOL" simulate --policy "$p" --capacity "$2" --trace "$1" \
        --requests "$REQUESTS" --keys "$KEYS" --seed "$SEED")
      RATIO[sim,$1,$p,$3]=$(field ratio "$out")
      echo "  exact   $p at $3 capacity: $out"
    else
      RATIO[sim,$1,$p,$3]="n/a"
    fi
  done
}

# The DBSIZE server $1 had at the end of its allkeys-lru run on trace $2
# (its first policy's run if allkeys-lru was not run).
held() {
  local first=${POLICIES%% *}
  local v=${DBSIZE[$1,$2,allkeys-lru]:-${DBSIZE[$1,$2,$first]:-n/a}}
  echo "$v"
}

# --- report -----------------------------------------------------------------

print_tables() {
  local t p head sep row
  echo
  echo "## Hit ratios"
  echo
  echo "REQUESTS=$REQUESTS KEYS=$KEYS FRACTION=$FRACTION SEED=$SEED BATCH=$BATCH" \
    "MAXMEMORY=$MAXMEMORY (Redis holding $FILL_COUNT keys of 100 bytes)"
  echo
  head="| trace |"
  sep="|---|"
  for p in $POLICIES; do head+=" Redis $p |"; sep+="---:|"; done
  for p in $POLICIES $EXTRA_POLICIES; do head+=" gocache $p |"; sep+="---:|"; done
  head+=" exact LRU (Redis keys / gocache keys) | exact LFU (Redis keys / gocache keys) | exact S3-FIFO (Redis keys / gocache keys) | keys held (Redis / gocache) |"
  sep+="---:|---:|---:|---:|"
  echo "$head"
  echo "$sep"
  for t in $TRACES; do
    row="| $t |"
    for p in $POLICIES; do row+=" ${RATIO[redis,$t,$p]:-n/a} |"; done
    for p in $POLICIES $EXTRA_POLICIES; do row+=" ${RATIO[gocache,$t,$p]:-n/a} |"; done
    row+=" ${RATIO[sim,$t,lru,redis]:-n/a} / ${RATIO[sim,$t,lru,gocache]:-n/a} |"
    row+=" ${RATIO[sim,$t,lfu,redis]:-n/a} / ${RATIO[sim,$t,lfu,gocache]:-n/a} |"
    row+=" ${RATIO[sim,$t,s3fifo,redis]:-n/a} / ${RATIO[sim,$t,s3fifo,gocache]:-n/a} |"
    row+=" $(held redis "$t") / $(held gocache "$t") |"
    echo "$row"
  done
  echo
  echo "Exact caches: capacity = DBSIZE at the end of the server's allkeys-lru run."
  echo
  echo "## Every run"
  echo
  echo "| server | trace | policy | hit ratio | DBSIZE | used_memory | evicted_keys | SET errors | policy reported | replay s |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---|---:|"
  for t in $TRACES; do
    for p in $POLICIES; do
      k="redis,$t,$p"
      echo "| Redis | $t | $p | ${RATIO[$k]} | ${DBSIZE[$k]} | ${USED[$k]} | ${EVICTED[$k]} | ${ERRORS[$k]} | ${POLICY_SEEN[$k]} | ${SECS[$k]} |"
    done
    for p in $POLICIES $EXTRA_POLICIES; do
      k="gocache,$t,$p"
      echo "| gocache | $t | $p | ${RATIO[$k]:-n/a} | ${DBSIZE[$k]:--} | ${USED[$k]:--} | ${EVICTED[$k]:--} | ${ERRORS[$k]:--} | ${POLICY_SEEN[$k]:--} | ${SECS[$k]:--} |"
    done
  done
  echo
  echo "Machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//');" \
    "$(redis-server --version | awk '{print $1, $2, $3}');" \
    "$([ -n "$GOCACHE" ] && "$GOCACHE" --version 2>/dev/null | head -n 1 || echo "gocache n/a");" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'); total ${SECONDS}s"
}

# --- main -------------------------------------------------------------------

main() {
  command -v redis-server >/dev/null ||
    { echo "redis-server not found (apt-get install -y redis-server)" >&2; exit 1; }
  build_tools
  size_maxmemory
  local t p
  for t in $TRACES; do
    echo "trace $t:"
    for p in $POLICIES; do
      run_redis "$t" "$p"
      run_gocache "$t" "$p"
    done
    for p in $EXTRA_POLICIES; do
      run_gocache "$t" "$p"
    done
    run_sims "$t" "$(held redis "$t")" redis
    run_sims "$t" "$(held gocache "$t")" gocache
  done
  print_tables
}

main
