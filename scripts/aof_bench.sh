#!/usr/bin/env bash
# What the append-only log costs: SET throughput and p99 of gocache beside
# Redis with appendfsync always, with everysec, and with no log at all
# (appendonly no, save ''; the baseline of the ratios), in one run.
#
# Each round, for each configuration, starts a fresh gocache on a fresh
# directory, runs
#   redis-benchmark -t set -c 50 -d 16 -r 100000 -n N --csv
# at -P 1 and at -P 16, stops it, then does the same with a fresh
# redis-server (gocache, Redis, gocache, Redis, ...), for ROUNDS rounds.
# Prints a markdown table of medians: req/s and p99 of each server, the
# gocache/Redis ratio, each server's throughput against its own no-log
# figure, and the gocache/Redis ratio against the no-log ratio (1.00: the
# log costs gocache what it costs Redis; below: more).
#
# Usage: bash scripts/aof_bench.sh              (2 to 4 minutes on 2 cores)
#        ROUNDS=5 bash scripts/aof_bench.sh
#        CONFIGS="everysec off" bash scripts/aof_bench.sh
# Knobs (environment):
#   ROUNDS               rounds (default 3)
#   CONFIGS              of "always everysec off" (default all three)
#   REQUESTS             -n at -P 1 (default 200000)
#   PIPELINED_REQUESTS   -n at -P 16 (default 1000000)
#   ALWAYS_REQUESTS      -n at -P 1 under always (default 100000: every
#                        write waits for a sync, so a slow disk makes these
#                        runs the long ones)
#   ALWAYS_PIPELINED_REQUESTS  -n at -P 16 under always (default 500000)
#   GOCACHE              gocache binary (default: cargo build --release,
#                        then target/release/gocache)
#   DATA_ROOT            where the servers' directories are made (default
#                        target/, on the disk the build uses; /tmp may be a
#                        tmpfs, where a sync costs nothing)
#   BUDGET               seconds after which a watchdog ends the run
#                        (default 900)
# Servers bind 127.0.0.1 on free ports; every process started here is
# stopped by its PID (EXIT trap); their directories are removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
read -r -a CONFIGS <<<"${CONFIGS:-always everysec off}"
REQUESTS=${REQUESTS:-200000}
PIPELINED_REQUESTS=${PIPELINED_REQUESTS:-1000000}
ALWAYS_REQUESTS=${ALWAYS_REQUESTS:-100000}
ALWAYS_PIPELINED_REQUESTS=${ALWAYS_PIPELINED_REQUESTS:-500000}
GOCACHE=${GOCACHE:-}
DATA_ROOT=${DATA_ROOT:-$PWD/target}
BUDGET=${BUDGET:-900}
PIPELINES=(1 16)
for c in "${CONFIGS[@]}"; do
  case "$c" in always | everysec | off) ;; *) echo "CONFIGS: $c is not always, everysec or off" >&2; exit 2 ;; esac
done

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
start_watchdog aof_bench

gocache_binary
mkdir -p "$DATA_ROOT"
data=$(mktemp -d -p "$DATA_ROOT" aof-bench.XXXXXX)

# The log flags of configuration $1.
log_flags() {
  case "$1" in
    off) echo "--appendonly no" ;;
    *) echo "--appendonly yes --appendfsync $1" ;;
  esac
}

# Starts server $1 (gocache or redis) in configuration $2 on a fresh
# directory; sets SPID and SPORT once it answers PING.
start_server() {
  local kind=$1 dir
  dir=$(mktemp -d -p "$data" "$kind-$2.XXXXXX")
  # shellcheck disable=SC2046 # log_flags gives separate words
  if [ "$kind" = gocache ]; then
    start_listening gocache "$GOCACHE" --port 0 --bind 127.0.0.1 --save '' --dir "$dir" \
      --loglevel warning $(log_flags "$2")
    SPID=$LAST_PID
    SPORT=$PORT
  else
    SPORT=$(free_port)
    redis-server --port "$SPORT" --bind 127.0.0.1 --save '' --dir "$dir" \
      --logfile "$dir/redis.log" $(log_flags "$2") >/dev/null 2>&1 &
    SPID=$!
    pids+=("$SPID")
  fi
  for _ in $(seq 200); do
    redis-cli -p "$SPORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "$kind ($2) did not answer PING within 10 s" >&2
  exit 1
}

# Stops the server by its PID and forgets the PID once reaped.
stop_server() {
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$SPID" ] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

# redis-benchmark SET on port $1 at pipeline $2 with $3 requests; prints
# "rps p99_ms".
run_set() {
  redis-benchmark -p "$1" -t set -c 50 -d 16 -r 100000 -n "$3" -P "$2" --csv 2>/dev/null |
    awk -F'","' 'NR == 2 { gsub(/"/, "", $7); print $2, $7 }'
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr); $(redis-server --version | cut -d' ' -f1-3); gocache $("$GOCACHE" --version | cut -d' ' -f2)"
echo "redis-benchmark -t set -c 50 -d 16 -r 100000: -n $REQUESTS at -P 1, $PIPELINED_REQUESTS at -P 16 ($ALWAYS_REQUESTS and $ALWAYS_PIPELINED_REQUESTS under always); $ROUNDS rounds, alternating gocache and Redis, fresh servers and directories"
echo "data directories under $DATA_ROOT ($(stat -f -c %T "$data")); configurations: ${CONFIGS[*]}"
echo

results="$work/results"
: >"$results"
for round in $(seq 1 "$ROUNDS"); do
  for config in "${CONFIGS[@]}"; do
    for kind in gocache redis; do
      start_server "$kind" "$config"
      for p in "${PIPELINES[@]}"; do
        n=$REQUESTS
        [ "$p" = 1 ] || n=$PIPELINED_REQUESTS
        if [ "$config" = always ]; then
          n=$ALWAYS_REQUESTS
          [ "$p" = 1 ] || n=$ALWAYS_PIPELINED_REQUESTS
        fi
        read -r rps p99 < <(run_set "$SPORT" "$p" "$n") || true
        if [ -z "${rps:-}" ]; then
          echo "redis-benchmark printed nothing for $kind $config -P $p" >&2
          exit 1
        fi
        echo "$kind $config $p $rps $p99" >>"$results"
        rps=""
      done
      stop_server
    done
  done
  echo "round $round of $ROUNDS done" >&2
done

python3 - "$results" <<'EOF'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    kind, config, p, rps, p99 = line.split()
    runs[(kind, config, int(p))].append((float(rps), float(p99)))
med = {k: (statistics.median(r for r, _ in v), statistics.median(l for _, l in v)) for k, v in runs.items()}
configs = [c for c in ("always", "everysec", "off") if any(k[1] == c for k in med)]
have_off = "off" in configs
print("| appendfsync | -P | gocache req/s | Redis req/s | gocache/Redis | gocache p99 ms | Redis p99 ms |"
      + (" gocache / its no-log | Redis / its no-log | ratio / no-log ratio |" if have_off else ""))
print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if have_off else ""))
summary = []
for config in configs:
    for p in (1, 16):
        if ("gocache", config, p) not in med:
            continue
        g, r = med[("gocache", config, p)], med[("redis", config, p)]
        ratio = g[0] / r[0]
        name = "no log" if config == "off" else config
        row = f"| {name} | {p} | {g[0]:,.0f} | {r[0]:,.0f} | {ratio:.2f} | {g[1]:.3f} | {r[1]:.3f} |"
        if have_off:
            g0, r0 = med[("gocache", "off", p)], med[("redis", "off", p)]
            rel = ratio / (g0[0] / r0[0])
            row += f" {g[0] / g0[0]:.2f} | {r[0] / r0[0]:.2f} | {rel:.2f} |"
            if config != "off":
                summary.append(f"{config} -P {p}: ratio {ratio:.2f}, {rel:.2f} of the no-log ratio")
        print(row)
if summary:
    print()
    print("summary: " + "; ".join(summary))
EOF
