# Shared by scripts/bench.sh and scripts/floor.sh (sourced, not run): the
# tool check, a scratch directory, and servers started on free loopback ports
# and stopped by PID.
#
# On sourcing, exits with a plain message naming the apt package when
# redis-server, redis-benchmark, redis-cli or python3 is missing.
# work, pids           the scratch directory, and the PIDs the EXIT trap
#                      stops (kill, then wait) before removing it
# free_port            prints a free loopback port
# start_listening NAME COMMAND...
#                      starts a server that prints "... listening on IP:PORT";
#                      sets PORT, and LAST_PID to its PID
# start_redis [ARG...] starts redis-server without persistence, with any
#                      extra ARGs; sets RPID and RPORT once it answers PING
# start_watchdog NAME  ends the script (SIGTERM, then its EXIT trap) after
#                      $BUDGET seconds, saying NAME stopped; sets watchdog,
#                      the PID to kill once the run is over
# gocache_binary       builds the release binary unless $GOCACHE names one;
#                      sets GOCACHE

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "$(basename "$0"): $1 is not installed; install it with: apt-get install -y $2" >&2
    exit 1
  fi
}
need redis-server redis-server
need redis-benchmark redis-tools
need redis-cli redis-tools
need python3 python3

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts "$@" with stdout to $work/$name.out and waits for its listening
# line; sets PORT and LAST_PID, and appends the PID to pids.
start_listening() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  LAST_PID=$!
  pids+=("$LAST_PID")
  PORT=""
  for _ in $(seq 1 200); do
    PORT=$(sed -n 's/^.* listening on .*:\([0-9]*\)$/\1/p' "$work/$name.out")
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "$name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

start_redis() {
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --logfile "$work/redis.log" "$@" &
  RPID=$!
  pids+=("$RPID")
  for _ in $(seq 1 200); do
    if redis-cli -p "$RPORT" ping >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "redis-server did not answer PING within 10 s" >&2
  exit 1
}

start_watchdog() {
  local name=$1
  trap 'echo "'"$name"': stopped (time budget of ${BUDGET}s or a signal)" >&2; exit 1' TERM INT
  # The watchdog's sleep must not hold the script's stdout open after the end.
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    sleep "$BUDGET" &
    nap=$!
    wait "$nap" && kill -TERM $$
  ) >/dev/null 2>&1 &
  watchdog=$!
}

gocache_binary() {
  if [ -z "${GOCACHE:-}" ]; then
    echo "building gocache (cargo build --release)" >&2
    cargo build --release --quiet
    GOCACHE="${CARGO_TARGET_DIR:-target}/release/gocache"
  fi
}
