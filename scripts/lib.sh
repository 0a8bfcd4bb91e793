# Shared by scripts/smoke.sh and scripts/compat.sh (sourced, not run):
# build the release binary, start gocache on a free port, stop it by its PID.
#
# start_gocache [extra flags...] sets GOCACHE_PID, GOCACHE_PORT and
# GOCACHE_TMP (a scratch directory: the snapshot dir and the server's logs).
# stop_gocache kills that PID only, and is installed as an EXIT trap so the
# server never outlives the script.

GOCACHE_PID=""
GOCACHE_PORT=""
GOCACHE_TMP=""

build_release() {
  echo "building the release binary"
  cargo build --release --quiet
  GOCACHE_BIN="${CARGO_TARGET_DIR:-target}/release/gocache"
  [ -x "$GOCACHE_BIN" ] || { echo "no binary at $GOCACHE_BIN" >&2; return 1; }
}

stop_gocache() {
  if [ -n "$GOCACHE_PID" ] && kill -0 "$GOCACHE_PID" 2>/dev/null; then
    kill "$GOCACHE_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$GOCACHE_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$GOCACHE_PID" 2>/dev/null || true
    wait "$GOCACHE_PID" 2>/dev/null || true
  fi
  GOCACHE_PID=""
  if [ -n "$GOCACHE_TMP" ]; then
    rm -rf "$GOCACHE_TMP"
    GOCACHE_TMP=""
  fi
}

start_gocache() {
  GOCACHE_TMP=$(mktemp -d)
  trap stop_gocache EXIT
  "$GOCACHE_BIN" --port 0 --dir "$GOCACHE_TMP" "$@" \
    >"$GOCACHE_TMP/stdout" 2>"$GOCACHE_TMP/stderr" &
  GOCACHE_PID=$!
  local line=""
  for _ in $(seq 200); do
    line=$(head -n 1 "$GOCACHE_TMP/stdout" 2>/dev/null || true)
    case "$line" in
      "gocache listening on "*:*) break ;;
    esac
    if ! kill -0 "$GOCACHE_PID" 2>/dev/null; then
      echo "gocache exited before listening:" >&2
      cat "$GOCACHE_TMP/stderr" >&2
      return 1
    fi
    sleep 0.1
  done
  case "$line" in
    "gocache listening on "*:*) ;;
    *) echo "gocache did not print its listening line within 20 s" >&2; return 1 ;;
  esac
  GOCACHE_PORT=${line##*:}
  echo "$line (pid $GOCACHE_PID)"
}
