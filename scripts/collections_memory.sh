#!/usr/bin/env bash
# Resident bytes per element of hashes, lists, sets and sorted sets, gocache beside
# Redis 7 in one run. For each shape, a fresh server of each kind is
# started, the same commands are piped to it (`redis-cli --pipe`), and the
# growth of used_memory_rss (VmRSS, from INFO memory) over the load is
# divided by the elements stored (hash fields, list elements, set and
# sorted set members).
# used_memory's growth is shown too. Servers alternate gocache, Redis,
# gocache, Redis, ... and the table gives each one's median over ROUNDS.
#
# The shapes (the collection issue's six, and issue 12's two):
#   a  100,000 hashes `hash:NNNNNN` of 10 fields `field:J` -> `value:RRRRR`
#   b  one hash of 1,000,000 fields `field:NNNNNNN` -> `value:RRRRR`
#   c  100,000 lists `list:NNNNNN` of 10 elements `element:RRRRR`
#   d  one list of 1,000,000 elements `element:RRRRR`
#   e  100,000 sets `set:NNNNNN` of 10 integers from 0 to 1,000,000
#   f  one set of 1,000,000 members `member:NNNNNNN`
#   g  100,000 sorted sets `zset:NNNNNN` of 10 members `member:J`, each
#      with a random integer score from 0 to 999,999 (a leaderboard)
#   h  one sorted set of 1,000,000 members `member:NNNNNNN`, each with a
#      random integer score from 0 to 999,999, added 1,000 a command
# (R: random digits, seeded, so both servers get the same bytes.)
#
#   bash scripts/collections_memory.sh            (ROUNDS=2; about 2 min)
#   ROUNDS=3 SHAPES="a e" bash scripts/collections_memory.sh
#
# Needs redis-server and redis-cli (Debian's redis-server, redis-tools) and
# python3 to write the command files. Servers bind 127.0.0.1 on free ports
# and are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ROUNDS=${ROUNDS:-2}
SHAPES=${SHAPES:-"a b c d e f g h"}
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
build_release

DATA=$(mktemp -d)
REDIS_PID=""
cleanup() {
  stop_gocache
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT

# Writes one RESP command file per shape, and its element count.
python3 - "$DATA" <<'EOF'
import random, sys, os
out = sys.argv[1]
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)
def write(name, commands, elements):
    with open(os.path.join(out, name + ".resp"), "wb") as f:
        for c in commands:
            f.write(c)
    with open(os.path.join(out, name + ".n"), "w") as f:
        f.write(str(elements))
rng = random.Random(7)
r5 = lambda: "%05d" % rng.randrange(100000)
write("a", (cmd("HSET", "hash:%06d" % i, *[x for j in range(10) for x in ("field:%d" % j, "value:" + r5())]) for i in range(100000)), 1000000)
write("b", (cmd("HSET", "bighash", *[x for j in range(1000) for x in ("field:%07d" % (i * 1000 + j), "value:" + r5())]) for i in range(1000)), 1000000)
write("c", (cmd("RPUSH", "list:%06d" % i, *["element:" + r5() for _ in range(10)]) for i in range(100000)), 1000000)
write("d", (cmd("RPUSH", "biglist", *["element:" + r5() for _ in range(1000)]) for i in range(1000)), 1000000)
def ten_ints():
    s = set()
    while len(s) < 10:
        s.add(rng.randrange(1000001))
    return sorted(s)
write("e", (cmd("SADD", "set:%06d" % i, *ten_ints()) for i in range(100000)), 1000000)
write("f", (cmd("SADD", "bigset", *["member:%07d" % (i * 1000 + j) for j in range(1000)]) for i in range(1000)), 1000000)
score = lambda: rng.randrange(1000000)
write("g", (cmd("ZADD", "zset:%06d" % i, *[x for j in range(10) for x in (score(), "member:%d" % j)]) for i in range(100000)), 1000000)
write("h", (cmd("ZADD", "bigzset", *[x for j in range(1000) for x in (score(), "member:%07d" % (i * 1000 + j))]) for i in range(1000)), 1000000)
EOF

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# used_memory and used_memory_rss of the server on port $1.
figures() {
  redis-cli -p "$1" INFO memory | tr -d '\r' |
    awk -F: '/^used_memory:/ {u=$2} /^used_memory_rss:/ {r=$2} END {print u+0, r+0}'
}

# Loads shape $2 into the server on port $1 and prints "rss_per used_per".
measure() {
  local port=$1 shape=$2 n
  n=$(cat "$DATA/$shape.n")
  read -r u0 r0 < <(figures "$port")
  redis-cli -p "$port" --pipe <"$DATA/$shape.resp" >/dev/null
  sleep 0.5
  read -r u1 r1 < <(figures "$port")
  awk -v n="$n" -v u0="$u0" -v u1="$u1" -v r0="$r0" -v r1="$r1" \
    'BEGIN { printf "%.1f %.1f\n", (r1 - r0) / n, (u1 - u0) / n }'
}

start_redis() {
  local port
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$DATA" >"$DATA/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && break
    sleep 0.1
  done
  # Another Redis (another script's) may hold a port: make sure the one
  # answering is the one started here.
  local pid
  pid=$(redis-cli -p "$port" INFO server | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
  if [ "$pid" != "$REDIS_PID" ]; then
    echo "port $port answers as process ${pid:-none}, not the Redis started ($REDIS_PID)" >&2
    exit 1
  fi
  REDIS_PORT=$port
}

stop_redis() {
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(redis-server --version | awk '{print $1, $3}'), rounds: $ROUNDS"
echo
echo "| shape | gocache RSS B/elem | Redis RSS B/elem | gocache/Redis | gocache used_memory B/elem | Redis used_memory B/elem |"
echo "|---|---:|---:|---:|---:|---:|"
for shape in $SHAPES; do
  : >"$DATA/g.rss"; : >"$DATA/g.used"; : >"$DATA/r.rss"; : >"$DATA/r.used"
  for _ in $(seq "$ROUNDS"); do
    start_gocache --save '' >/dev/null
    read -r rss used < <(measure "$GOCACHE_PORT" "$shape")
    echo "$rss" >>"$DATA/g.rss"; echo "$used" >>"$DATA/g.used"
    stop_gocache
    start_redis
    read -r rss used < <(measure "$REDIS_PORT" "$shape")
    echo "$rss" >>"$DATA/r.rss"; echo "$used" >>"$DATA/r.used"
    stop_redis
  done
  g=$(median <"$DATA/g.rss"); r=$(median <"$DATA/r.rss")
  gu=$(median <"$DATA/g.used"); ru=$(median <"$DATA/r.used")
  awk -v s="$shape" -v g="$g" -v r="$r" -v gu="$gu" -v ru="$ru" \
    'BEGIN { printf "| %s | %.1f | %.1f | %.2f | %.1f | %.1f |\n", s, g, r, g / r, gu, ru }'
done
