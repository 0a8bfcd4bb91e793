#!/usr/bin/env bash
# Compatibility check: Redis's own tools and a Redis client library against a
# freshly started gocache, unchanged but for the port.
#
#   redis-cli        one-shot commands (RESP2 and -3), --scan, --pipe of
#                    100,000 keys, AUTH against --requirepass
#   redis-benchmark  -t ping_mbulk,set,get,incr,mset -n 100000 -q, with and
#                    without -P 16: every test must report a rate, none error
#   python redis     scripts/compat_client.py with the library's default
#                    protocol (RESP3 on redis-py 8) and with protocol=2
#
# Installs what is missing (redis-tools from apt, redis from pip). Every step
# is bounded by `timeout`; the server is stopped by its PID. Exits non-zero on
# the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step() { printf '\n--- %s\n' "$*"; }
die() {
  echo "FAIL: $*" >&2
  exit 1
}

step "tools"
if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-tools"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q redis-tools >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q redis-tools >/dev/null; } ||
    die "cannot install redis-tools"
fi
if ! python3 -c 'import redis' 2>/dev/null; then
  echo "installing the redis Python package"
  python3 -m pip install -q redis ||
    python3 -m pip install -q --break-system-packages redis ||
    die "cannot install the redis Python package"
fi
redis-cli --version
redis-benchmark --version 2>/dev/null || true
python3 -c 'import redis; print("redis-py", redis.__version__)'

build_release
start_gocache --snapshot-interval 0
port=$GOCACHE_PORT
cli() { timeout 30 redis-cli -p "$port" "$@"; }

# expect NAME WANT COMMAND...: runs COMMAND and compares its whole output.
expect() {
  local name=$1 want=$2
  shift 2
  local got
  got=$("$@" 2>&1) || die "$name: exit status $? (output: $got)"
  [ "$got" == "$want" ] || die "$name: expected $(printf '%q' "$want"), got $(printf '%q' "$got")"
  echo "ok   $name"
}

step "redis-cli one-shot commands"
expect "PING" "PONG" cli PING
expect "SET" "OK" cli SET greeting "hello world"
expect "GET" "hello world" cli GET greeting
expect "GET missing (nil prints empty)" "" cli GET missing
expect "INCR" "1" cli INCR counter
expect "INCRBY" "42" cli INCRBY counter 41
expect "MSET" "OK" cli MSET a 1 b 2
expect "MGET (nil prints empty)" $'1\n2' cli MGET a b missing
expect "EXISTS" "2" cli EXISTS a b missing
expect "DEL" "2" cli DEL a b
expect "EXPIRE" "1" cli EXPIRE greeting 100
ttl=$(cli TTL greeting)
case "$ttl" in 99 | 100) echo "ok   TTL ($ttl)" ;; *) die "TTL: got $ttl" ;; esac
expect "TYPE" "string" cli TYPE greeting
expect "DBSIZE" "2" cli DBSIZE
expect "CONFIG GET maxmemory" $'maxmemory\n0' cli CONFIG GET maxmemory
expect "INFO server redis_version" "redis_version:7.0.15" \
  bash -c "timeout 30 redis-cli -p $port INFO server | tr -d '\r' | grep '^redis_version:'"
expect "unknown command error" \
  "ERR unknown command 'NOSUCH', with args beginning with: 'x' " cli NOSUCH x
expect "RESP3 (-3) INCRBYFLOAT is a bulk string" "1.5" cli -3 INCRBYFLOAT fl 1.5
expect "RESP3 (-3) CONFIG GET is a map" "port $port" cli -3 CONFIG GET port
expect "FLUSHALL" "OK" cli FLUSHALL

step "redis-cli --pipe: mass insertion of 100,000 keys"
pipe_out=$(awk 'BEGIN {
    for (i = 0; i < 100000; i++) {
      k = "key:" i; v = "value:" i
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
    }
  }' | timeout 120 redis-cli -p "$port" --pipe 2>&1) || die "--pipe failed: $pipe_out"
echo "$pipe_out"
grep -q "errors: 0, replies: 100000" <<<"$pipe_out" || die "--pipe did not report 100000 replies without errors"
expect "DBSIZE after --pipe" "100000" cli DBSIZE
expect "a piped value" "value:99999" cli GET key:99999

step "redis-cli --scan"
scanned=$(timeout 120 redis-cli -p "$port" --scan | wc -l)
[ "$scanned" -eq 100000 ] || die "--scan listed $scanned keys, expected 100000"
echo "ok   --scan listed $scanned keys"
scanned=$(timeout 120 redis-cli -p "$port" --scan --pattern 'key:1*' | wc -l)
[ "$scanned" -eq 11111 ] || die "--scan --pattern key:1* listed $scanned keys, expected 11111"
echo "ok   --scan --pattern 'key:1*' listed $scanned keys"
expect "FLUSHALL" "OK" cli FLUSHALL

# bench LABEL ARGS...: every test must print a rate; any error fails.
bench() {
  local label=$1
  shift
  local out
  out=$(timeout 600 redis-benchmark -p "$port" -t ping_mbulk,set,get,incr,mset -n 100000 -q "$@" 2>&1 |
    tr '\r' '\n') || die "redis-benchmark $label: exit status $?"
  if grep -qiE 'error|refused|reset' <<<"$out"; then
    grep -iE 'error|refused|reset' <<<"$out" | head -n 5 >&2
    die "redis-benchmark $label reported errors"
  fi
  local test line
  for test in PING_MBULK SET GET INCR 'MSET (10 keys)'; do
    line=$(grep -E "^${test//[()]/.}: [0-9.]+ requests per second" <<<"$out" | tail -n 1) ||
      die "redis-benchmark $label: no rate for $test"
    echo "  $label  $line"
  done
}

step "redis-benchmark -n 100000 -q (no pipelining)"
bench "-P 1 "
step "redis-benchmark -n 100000 -q -P 16"
bench "-P 16" -P 16
# Without -r every INCR hits one key: 2 x 100,000 of them, none lost.
expect "the benchmarks' 200,000 INCRs all counted" "200000" cli GET counter:__rand_int__

step "python redis: default protocol"
out=$(timeout 120 python3 scripts/compat_client.py "$port" default 2>&1) || {
  echo "$out"
  die "compat_client.py (default protocol) failed"
}
echo "$out"
if ! grep -q "speaks RESP3" <<<"$out"; then
  step "python redis: protocol=3 (this redis-py does not default to it)"
  timeout 120 python3 scripts/compat_client.py "$port" 3 || die "compat_client.py protocol=3 failed"
fi
step "python redis: protocol=2"
timeout 120 python3 scripts/compat_client.py "$port" 2 || die "compat_client.py protocol=2 failed"
stop_gocache

step "AUTH against --requirepass"
start_gocache --snapshot-interval 0 --requirepass compat-secret
port=$GOCACHE_PORT
expect "NOAUTH before AUTH" "NOAUTH Authentication required." cli GET k
expect "redis-cli -a" "PONG" cli -a compat-secret --no-auth-warning PING
expect "redis-cli -a wrong" \
  $'AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\nNOAUTH Authentication required.' \
  bash -c "timeout 30 redis-cli -p $port -a wrong --no-auth-warning PING 2>&1 || true"
for protocol in default 2; do
  timeout 120 python3 scripts/compat_client.py --auth "$port" compat-secret "$protocol" ||
    die "compat_client.py --auth ($protocol) failed"
done
stop_gocache

echo
echo "compat check passed"
