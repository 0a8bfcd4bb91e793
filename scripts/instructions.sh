#!/usr/bin/env bash
# Instructions gocache executes per request, counted by valgrind's callgrind
# (counts repeat from run to run where seconds do not): for SET, and for a
# SET followed by a GET, of fresh 16-byte keys with 16-byte values, pipelined
# 1,000 at a time over one connection. Each count is the difference between
# a run of 80,000 requests and one of 20,000, over 60,000, so start-up and
# shutdown cancel out. With BEFORE=path, an older build is counted the same
# way beside the current one.
#
#   bash scripts/instructions.sh                 (about 2 minutes)
#   BEFORE=/path/to/older/gocache bash scripts/instructions.sh
#
# Needs valgrind (apt-get install -y valgrind) and python3. Servers bind
# 127.0.0.1 on a free port, save nothing, and exit by SHUTDOWN NOSAVE.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/drive.py" <<'PY'
import socket, sys
port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(120)
def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
def run(requests, lines):
    s.sendall(b"".join(requests))
    buf = b""
    while buf.count(b"\r\n") < lines:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("the server closed the connection")
        buf += chunk
batch = 1000
for i in range(0, n, batch):
    keys = ["key:%010d" % j for j in range(i, i + batch)]
    run([cmd("SET", k, "v" * 16) for k in keys], batch)
    if mode == "get":
        run([cmd("GET", k) for k in keys], 2 * batch)
s.sendall(cmd("SHUTDOWN", "NOSAVE"))
try:
    s.recv(16)
except OSError:
    pass
PY

# count BIN MODE N: total instructions of one server run.
count() {
  local out="$work/out.$$" cg="$work/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$cg" "$1" --port 0 --dir "$work" --save "" \
    >"$out" 2>"$work/err" &
  local pid=$! port=""
  for _ in $(seq 1 400); do
    port=$(sed -n 's/^.* listening on .*:\([0-9]*\)$/\1/p' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "the server did not start under valgrind" >&2; cat "$work/err" >&2; kill "$pid"; exit 1; }
  python3 "$work/drive.py" "$port" "$3" "$2"
  wait "$pid" || true
  sed -n 's/^summary: //p' "$cg"
}

# per_request BIN MODE: instructions a request (a SET, or a SET and a GET).
per_request() {
  local small large
  small=$(count "$1" "$2" 20000)
  large=$(count "$1" "$2" 80000)
  echo $(((large - small) / 60000))
}

echo "| build | SET | SET + GET |"
echo "|---|---:|---:|"
builds=("current=target/release/gocache")
[ -n "${BEFORE:-}" ] && builds=("before=$BEFORE" "${builds[@]}")
for b in "${builds[@]}"; do
  echo "| ${b%%=*} | $(per_request "${b#*=}" set) | $(per_request "${b#*=}" get) |"
done
