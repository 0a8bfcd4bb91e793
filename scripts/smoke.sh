#!/usr/bin/env bash
# Smoke test: build the release binary, start it on a free port, play the
# seed's nc session and check every reply byte for byte. Uses nc where it is
# installed, else bash's /dev/tcp. Exits non-zero on any mismatch; the server
# is always stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build_release
start_gocache

# The seed session, and what it must answer, byte for byte.
session=$'SET name "vimla"\nGET name\nSET session_token "abc123" 60\nDELETE name\n'
expected=$'OK\n"vimla"\nOK\nOK\n'
# A second session checks what the first left behind.
check=$'GET name\nGET session_token\nTTL session_token\n'
check_expected_60=$'(nil)\n"abc123"\n(integer) 60\n'
check_expected_59=$'(nil)\n"abc123"\n(integer) 59\n'

# Sends $1 and prints every byte the server answers. nc half-closes after
# the input (-N), and the server closes once it has answered, so nc's output
# is the whole reply. With /dev/tcp, read the $2 lines expected, then any
# stray bytes that follow within half a second.
use_nc() { [ "${SMOKE_CLIENT:-}" != devtcp ] && command -v nc >/dev/null 2>&1; }
play() {
  local input=$1 lines=$2
  if use_nc; then
    printf '%s' "$input" | timeout 10 nc -N 127.0.0.1 "$GOCACHE_PORT"
  else
    exec 3<>"/dev/tcp/127.0.0.1/$GOCACHE_PORT"
    printf '%s' "$input" >&3
    local line
    for _ in $(seq "$lines"); do
      IFS= read -r -t 10 line <&3 || break
      printf '%s\n' "$line"
    done
    if IFS= read -r -t 0.5 line <&3 || [ -n "$line" ]; then
      printf '%s' "$line"
    fi
    exec 3>&-
  fi
}

fail=0
compare() {
  local name=$1 got=$2 want=$3
  if [ "$got" == "$want" ]; then
    echo "ok   $name"
  else
    echo "FAIL $name" >&2
    echo "  expected: $(printf '%s' "$want" | od -c | head -n 5)" >&2
    echo "  got:      $(printf '%s' "$got" | od -c | head -n 5)" >&2
    fail=1
  fi
}

client=$(use_nc && echo nc || echo "bash's /dev/tcp")
echo "playing the seed session with $client on port $GOCACHE_PORT"
# Capture with a trailing marker so command substitution keeps final newlines.
got=$(play "$session" 4; echo x); got=${got%x}
compare "seed session" "$got" "$expected"
got=$(play "$check" 3; echo x); got=${got%x}
if [ "$got" == "$check_expected_59" ]; then
  compare "state after the session" "$got" "$check_expected_59"
else
  compare "state after the session" "$got" "$check_expected_60"
fi

if ! kill -0 "$GOCACHE_PID" 2>/dev/null; then
  echo "FAIL the server died" >&2
  fail=1
fi
stop_gocache
if [ "$fail" -ne 0 ]; then
  echo "smoke test FAILED" >&2
  exit 1
fi
echo "smoke test passed"
