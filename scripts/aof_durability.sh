#!/usr/bin/env bash
# The kill -9 durability check of the append-only log: no write a client
# saw acknowledged under appendfsync always may be missing after a crash.
#
# One server runs on one directory for the whole run (the log accumulates
# across rounds). Each round:
#   1. WRITERS connections (scripts/aof_writer.rs, std only, compiled here
#      with rustc) SET keys unique to the round and writer,
#      r<round>-w<writer>-<i> = v:<key>, one at a time, each key appended
#      to that writer's "acked" file only once its +OK arrived; with
#      REWRITE=1 one more connection sends BGREWRITEAOF every REWRITE_MS ms;
#   2. after a random delay of MIN_DELAY_MS..MAX_DELAY_MS ($RANDOM), the
#      server is killed with SIGKILL by its PID (with the PIDs of its child
#      processes, if any: Redis's rewrite child), mid-write and, with
#      REWRITE=1, often mid-rewrite;
#   3. it is restarted on the same directory, and the acknowledged keys of
#      every round so far are read back with pipelined MGETs.
# The restarted server is the next round's. A kill -9 leaves the page
# cache alone, so this checks that every acknowledged write reached the
# kernel (write(2)) before its +OK, under any appendfsync (FSYNC=everysec
# must pass too); that it was synced first is scripts/aof_order.sh's check.
# Prints a table, one row a round (acknowledged SETs, what the kill left in
# the log directory, missing of this round's and of all rounds' keys), and
# the total; exits 1 if any acknowledged key is missing or wrong, or a
# restart fails.
#
# Usage: bash scripts/aof_durability.sh          (about 2 minutes)
#        ROUNDS=3 bash scripts/aof_durability.sh
#        REWRITE=1 bash scripts/aof_durability.sh
#        SERVER=redis bash scripts/aof_durability.sh   (the same against
#                      redis-server --appendonly yes --appendfsync always)
# Knobs (environment):
#   ROUNDS        rounds (default 50)
#   WRITERS       writer connections (default 8)
#   SERVER        gocache (default) or redis
#   REWRITE       1: BGREWRITEAOF every REWRITE_MS (default 100) ms
#   MIN_DELAY_MS, MAX_DELAY_MS   the kill's delay after the writes start
#                 (default 200 and 1500)
#   FSYNC         appendfsync policy (default always)
#   GOCACHE       gocache binary (default: cargo build --release, then
#                 target/release/gocache)
#   BUDGET        seconds after which a watchdog ends the run (default 300)
#   DATA_ROOT     where the server's directory is made (default target/, on
#                 the disk the build uses; /tmp may be a tmpfs)
# Servers bind 127.0.0.1 on free ports; every process started here is
# stopped by its PID (EXIT trap); scratch files live in a mktemp -d
# directory, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-50}
WRITERS=${WRITERS:-8}
SERVER=${SERVER:-gocache}
REWRITE=${REWRITE:-0}
REWRITE_MS=${REWRITE_MS:-100}
MIN_DELAY_MS=${MIN_DELAY_MS:-200}
MAX_DELAY_MS=${MAX_DELAY_MS:-1500}
FSYNC=${FSYNC:-always}
GOCACHE=${GOCACHE:-}
BUDGET=${BUDGET:-300}
DATA_ROOT=${DATA_ROOT:-$PWD/target}
case "$SERVER" in gocache | redis) ;; *) echo "SERVER must be gocache or redis" >&2; exit 2 ;; esac
[ "$MAX_DELAY_MS" -ge "$MIN_DELAY_MS" ] || { echo "MAX_DELAY_MS < MIN_DELAY_MS" >&2; exit 2; }

# work, pids, cleanup (kill, then wait, every PID in pids), free_port,
# start_listening.
source scripts/bench_lib.sh

watchdog=""
data=""
on_exit() {
  [ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null || true
  cleanup
  [ -z "$data" ] || rm -rf "$data"
}
trap on_exit EXIT
start_watchdog aof_durability

# Drops PID $1 from pids once it is reaped, so that the EXIT trap never
# signals a PID the system may have given to another process since.
forget() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

tool="$work/aof_writer"
echo "compiling scripts/aof_writer.rs" >&2
rustc -O --edition 2021 -o "$tool" scripts/aof_writer.rs
if [ "$SERVER" = gocache ]; then
  gocache_binary
fi

mkdir -p "$DATA_ROOT"
data=$(mktemp -d -p "$DATA_ROOT" aof-durability.XXXXXX)
acked="$work/acked"
mkdir -p "$acked"

SPID=""
SPORT=""
# Starts the server on $data; sets SPID and SPORT once it answers PONG
# (so after it loaded the log).
start_server() {
  if [ "$SERVER" = gocache ]; then
    start_listening gocache "$GOCACHE" --port 0 --bind 127.0.0.1 --appendonly yes \
      --appendfsync "$FSYNC" --save '' --dir "$data" --loglevel warning
    SPID=$LAST_PID
    SPORT=$PORT
  else
    SPORT=$(free_port)
    redis-server --port "$SPORT" --bind 127.0.0.1 --appendonly yes --appendfsync "$FSYNC" \
      --save '' --dir "$data" --logfile "$work/redis.log" >/dev/null 2>&1 &
    SPID=$!
    pids+=("$SPID")
  fi
  if ! "$tool" wait --addr "127.0.0.1:$SPORT" --timeout-ms 30000; then
    echo "the $SERVER server (pid $SPID) did not come up on $data:" >&2
    tail -n 20 "$work/gocache.err" "$work/redis.log" 2>/dev/null >&2 || true
    exit 1
  fi
}

# SIGKILL to the server and, in the same kill, its child processes (found
# by the server's PID in /proc, never by name); waits until all are gone.
crash_server() {
  local kids
  kids=$(cat /proc/"$SPID"/task/*/children 2>/dev/null || true)
  # shellcheck disable=SC2086 # the child PIDs are separate words
  kill -9 "$SPID" $kids 2>/dev/null || true
  { wait "$SPID"; } 2>/dev/null || true
  forget "$SPID"
  for kid in $kids; do
    for _ in $(seq 100); do
      kill -0 "$kid" 2>/dev/null || break
      sleep 0.05
    done
  done
  SPID=""
}

# What the kill left in the log directory: "N incr" (the incremental files
# the manifest names; more than one: killed mid-rewrite, or after a failed
# one) and "+M other" (files the manifest does not name, and rewrite temp
# files in the data directory: a rewrite was under way).
log_state() {
  local d="$data/appendonlydir" manifest named incr other=0 f
  manifest=$(find "$d" -maxdepth 1 -name '*.manifest' 2>/dev/null | head -n 1)
  [ -n "$manifest" ] || { echo "no manifest"; return; }
  # gocache: "base NAME" / "incr NAME"; Redis: "file NAME seq N type b|i".
  named=$(awk '$1 == "base" || $1 == "incr" || $1 == "file" { print $2 }' "$manifest")
  incr=$(awk '$1 == "incr" || ($1 == "file" && / type i/) { n++ } END { print n + 0 }' "$manifest")
  for f in "$d"/* "$data"/temp-*; do
    [ -e "$f" ] || continue
    [ "$f" = "$manifest" ] && continue
    grep -qxF "$(basename "$f")" <<<"$named" || other=$((other + 1))
  done
  if [ "$other" = 0 ]; then echo "$incr incr"; else echo "$incr incr +$other other"; fi
}

field() { # name, line of name=value pairs
  local pair
  for pair in $2; do
    case "$pair" in "$1="*) echo "${pair#*=}"; return ;; esac
  done
  echo "?"
}

if [ "$SERVER" = gocache ]; then
  version="gocache $("$GOCACHE" --version | cut -d' ' -f2)"
else
  version="$(redis-server --version | cut -d' ' -f1-3)"
fi
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr); $(redis-server --version | cut -d' ' -f1-3)"
rewrite_note="no BGREWRITEAOF"
[ "$REWRITE" = 1 ] && rewrite_note="BGREWRITEAOF every $REWRITE_MS ms"
echo "server: $version, --appendonly yes --appendfsync $FSYNC --save '', one directory for all rounds ($data, $(stat -f -c %T "$data"))"
echo "$ROUNDS rounds: $WRITERS writers, kill -9 after ${MIN_DELAY_MS}-${MAX_DELAY_MS} ms, $rewrite_note"
echo

start_server
echo "| round | kill after ms | acked | rewrites started/refused | log at the kill | restart s | missing, this round | missing, all rounds | keys held | unacked held |"
echo "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
total_acked=0
worst=0
mid=0
for round in $(seq 1 "$ROUNDS"); do
  rm -f "$acked/ready"
  rewrite_args=()
  [ "$REWRITE" = 1 ] && rewrite_args=(--rewrite-ms "$REWRITE_MS")
  "$tool" write --addr "127.0.0.1:$SPORT" --round "$round" --writers "$WRITERS" \
    --out "$acked" --max-ms 20000 "${rewrite_args[@]+"${rewrite_args[@]}"}" \
    >"$work/write.out" 2>"$work/write.err" &
  wpid=$!
  pids+=("$wpid")
  for _ in $(seq 200); do
    [ -e "$acked/ready" ] && break
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.05
  done
  if [ ! -e "$acked/ready" ]; then
    echo "round $round: the writers did not connect:" >&2
    cat "$work/write.err" >&2
    exit 1
  fi
  delay=$((MIN_DELAY_MS + RANDOM % (MAX_DELAY_MS - MIN_DELAY_MS + 1)))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if ! kill -0 "$SPID" 2>/dev/null; then
    echo "round $round: the server (pid $SPID) died before the kill:" >&2
    tail -n 20 "$work/gocache.err" "$work/redis.log" 2>/dev/null >&2 || true
    exit 1
  fi
  crash_server
  state=$(log_state)
  case "$state" in "1 incr") ;; *) mid=$((mid + 1)) ;; esac
  wait "$wpid" || { echo "round $round: the writers failed:" >&2; cat "$work/write.err" >&2; exit 1; }
  forget "$wpid"
  wline=$(cat "$work/write.out")
  if [ -s "$work/write.err" ]; then sed "s/^/round $round: /" "$work/write.err" >&2; fi
  t0=$(date +%s.%N)
  start_server
  t1=$(date +%s.%N)
  cline=$("$tool" check --addr "127.0.0.1:$SPORT" --dir "$acked" --round "$round" 2>"$work/check.err")
  held=$(redis-cli -p "$SPORT" dbsize)
  if [ -s "$work/check.err" ]; then sed "s/^/round $round: /" "$work/check.err" >&2; fi
  n=$(field acked "$wline")
  acked_cell=$n
  errs=$(field error_replies "$wline")
  [ "$errs" = 0 ] || acked_cell="$n ($errs error replies)"
  total_acked=$((total_acked + n))
  lost=$(($(field missing "$cline") + $(field wrong "$cline")))
  [ "$lost" -le "$worst" ] || worst=$lost
  printf '| %d | %d | %s | %s/%s | %s | %.2f | %s of %s | %s of %s | %s | %d |\n' \
    "$round" "$delay" "$acked_cell" "$(field rewrites_started "$wline")" "$(field rewrites_refused "$wline")" "$state" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(field round_missing "$cline")" "$(field round_checked "$cline")" \
    "$lost" "$(field checked "$cline")" "$held" $((held - $(field checked "$cline") + lost))
done
kill "$SPID" 2>/dev/null || true
{ wait "$SPID"; } 2>/dev/null || true
forget "$SPID"

echo
if [ "$worst" = 0 ]; then
  echo "total: $ROUNDS rounds ($mid with a rewrite in flight at the kill), $total_acked acknowledged SETs, 0 missing: PASS"
else
  echo "total: $ROUNDS rounds ($mid with a rewrite in flight at the kill), $total_acked acknowledged SETs, up to $worst missing or wrong after a restart: FAIL"
  exit 1
fi
