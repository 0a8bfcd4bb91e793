#!/usr/bin/env bash
# The ordering check of the append-only log under appendfsync always, read
# from an strace of the server: no reply acknowledging a write leaves
# before the log's bytes holding that write were synced.
#
# Starts gocache with --appendonly yes --appendfsync always --save '' under
#   strace -f -ttt -T -yy -xx -s 262144 -e trace=read,recvfrom,write,sendto,
#          writev,sendmsg,pwrite64,pwritev,fdatasync,fsync
# (-yy names each fd: the log's incremental file, *.incr.gcl, apart from
# the TCP sockets; -xx -s 262144 prints every buffer whole, in hex), runs
#   redis-benchmark -t set -n REQUESTS -c CLIENTS -r 100000 -d 16 at -P 1
#   and at -P 8, then a few redis-cli writes of unique keys
#   (SET, INCR, RPUSH, MSET, HSET),
# stops the server by its PID, and checks the trace (python3, below).
#
# The check. Per client connection (its socket, named by -yy), the bytes
# read are parsed into commands and the bytes written into replies, in
# order, so each command has the socket read that completed it (ending at
# R) and the socket write that carried the first byte of its reply
# (starting at W). For every write command (SET, INCR, RPUSH, MSET, HSET)
# there must be, on one log file:
#   - a log write (pwrite64, write, ...) that began at or after R, ended by
#     W, and whose bytes hold the command's key (its record: the record
#     cannot be appended before its command was read), and
#   - an fdatasync or fsync of that same file that began at or after that
#     log write ended, and ended by W.
# This is necessary for the ack to be durable, so a FAIL is a real ordering
# violation; it holds whichever thread writes or syncs (gocache: a syncer
# thread doing group commit; Redis: its main thread). Timestamps are
# strace's (microseconds: one tracer sees every thread's events in order);
# comparisons allow 2 us of rounding. Also reported: the log's writes and
# syncs against the write commands, i.e. the group-commit factor (write
# commands per fdatasync).
#
# With REDIS=1 (the default) the same load and check then run against
# redis-server --appendonly yes --appendfsync always (its AOF is write(2)
# and fdatasync on appendonlydir/*.incr.aof, replies write(2)), reported
# for comparison; only gocache's result sets the exit status.
#
# Usage: bash scripts/aof_order.sh           (well under a minute)
#        REQUESTS=5000 REDIS=0 bash scripts/aof_order.sh
# Knobs (environment):
#   REQUESTS   SETs per redis-benchmark run (default 20000)
#   CLIENTS    redis-benchmark connections (default 20)
#   REDIS      1: also check redis-server (default 1)
#   GOCACHE    gocache binary (default: cargo build --release, then
#              target/release/gocache)
#   BUDGET     seconds after which a watchdog ends the run (default 240)
#   DATA_ROOT  where the servers' directories are made (default target/, on
#              the disk the build uses; /tmp may be a tmpfs)
#   FSYNC      appendfsync of both servers (default always); FSYNC=everysec
#              is the check's own test: it must FAIL there, replies not
#              waiting for the sync
# Servers bind 127.0.0.1 on free ports; every process started here is
# stopped by its PID (EXIT trap); scratch files (the traces) live in a
# mktemp -d directory, removed at exit (KEEP=1 keeps and names it).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-20}
REDIS=${REDIS:-1}
GOCACHE=${GOCACHE:-}
BUDGET=${BUDGET:-240}
KEEP=${KEEP:-0}
FSYNC=${FSYNC:-always}
DATA_ROOT=${DATA_ROOT:-$PWD/target}
mkdir -p "$DATA_ROOT"

# work, pids, cleanup (kill, then wait, every PID in pids), free_port.
source scripts/bench_lib.sh
need strace strace

TRACER=""   # the strace process
TRACEE=""   # the server it runs
watchdog=""
datadirs=()
on_exit() {
  # The server first: strace (which blocks SIGTERM when it runs a program
  # with -o) waits for it.
  [ -z "$TRACER" ] || stop_traced
  [ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null || true
  for d in "${datadirs[@]+"${datadirs[@]}"}"; do rm -rf "$d"; done
  if [ "$KEEP" = 1 ]; then
    echo "traces kept in $work" >&2
    trap - EXIT
    exit
  fi
  cleanup
}
trap on_exit EXIT
start_watchdog aof_order

gocache_binary

STRACE=(strace -f -ttt -T -yy -xx -s 262144
  -e trace=read,recvfrom,write,sendto,writev,sendmsg,pwrite64,pwritev,fdatasync,fsync)

# Whether process $1 has exited (a zombie counts: it is only not reaped).
gone() {
  local state
  state=$(sed 's/^.*) //' /proc/"$1"/stat 2>/dev/null | cut -d' ' -f1) || true
  [ -z "$state" ] || [ "$state" = Z ]
}

# Runs server $1 (gocache or redis) under strace writing $work/$1.trace,
# with its data in a fresh directory; sets TRACER (strace's PID), SPORT,
# and TRACEE: the server's PID, from its INFO (process_id), checked to be
# strace's child (strace forks short-lived test children too).
start_traced() {
  local kind=$1 dir pid
  mkdir -p "$DATA_ROOT"
  dir=$(mktemp -d -p "$DATA_ROOT" "aof-order-$kind.XXXXXX")
  datadirs+=("$dir")
  SPORT=$(free_port)
  if [ "$kind" = gocache ]; then
    "${STRACE[@]}" -o "$work/$kind.trace" "$GOCACHE" --port "$SPORT" --bind 127.0.0.1 \
      --appendonly yes --appendfsync "$FSYNC" --save '' --dir "$dir" --loglevel warning \
      >"$work/$kind.out" 2>"$work/$kind.err" &
  else
    "${STRACE[@]}" -o "$work/$kind.trace" redis-server --port "$SPORT" --bind 127.0.0.1 \
      --appendonly yes --appendfsync "$FSYNC" --save '' --dir "$dir" \
      --logfile "$work/$kind.log" >"$work/$kind.out" 2>"$work/$kind.err" &
  fi
  TRACER=$!
  pids+=("$TRACER")
  for _ in $(seq 200); do
    pid=$(redis-cli -p "$SPORT" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p' || true)
    if [ -n "$pid" ] && [ "$(sed 's/^.*) //' /proc/"$pid"/stat 2>/dev/null | cut -d' ' -f2)" = "$TRACER" ]; then
      TRACEE=$pid
      return 0
    fi
    gone "$TRACER" && break
    sleep 0.1
  done
  echo "$kind did not come up under strace:" >&2
  cat "$work/$kind.err" "$work/$kind.log" 2>/dev/null >&2 || true
  exit 1
}

# Stops the traced server by its PID (SIGTERM, then SIGKILL after 10 s),
# then waits up to 10 s for strace to finish the trace (SIGKILL after).
# Before the server's PID is known (a failed start), strace's own children
# are stopped the same way: a killed strace would leave them running.
stop_traced() {
  local victims=$TRACEE v
  [ -n "$victims" ] || victims=$(cat /proc/"$TRACER"/task/*/children 2>/dev/null || true)
  for v in $victims; do kill "$v" 2>/dev/null || true; done
  for v in $victims; do
    for _ in $(seq 100); do
      gone "$v" && break
      sleep 0.1
    done
    gone "$v" || kill -9 "$v" 2>/dev/null || true
  done
  TRACEE=""
  for _ in $(seq 100); do
    gone "$TRACER" && break
    sleep 0.1
  done
  gone "$TRACER" || kill -9 "$TRACER" 2>/dev/null || true
  wait "$TRACER" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$TRACER" ] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
  TRACER=""
}

# The load: two redis-benchmark runs and a few unique redis-cli writes, on
# port $1; appends "name|start|end|what redis-benchmark said" per phase to
# file $2 (times from date +%s.%N, the clock strace -ttt prints).
load() {
  local port=$1 phases=$2 p t0 said
  for p in 1 8; do
    t0=$(date +%s.%N)
    said=$(timeout 120 redis-benchmark -p "$port" -t set -n "$REQUESTS" -c "$CLIENTS" -r 100000 \
      -d 16 -P "$p" -q 2>/dev/null | tr '\r' '\n' | grep -a 'requests per second' | tail -n 1 || true)
    echo "redis-benchmark -P $p|$t0|$(date +%s.%N)|${said# }" >>"$phases"
  done
  t0=$(date +%s.%N)
  for i in 1 2 3; do
    redis-cli -p "$port" set "order:unique:$i" "value-$i" >/dev/null
    redis-cli -p "$port" incr "order:counter:$i" >/dev/null
    redis-cli -p "$port" rpush "order:list:$i" a b c >/dev/null
    redis-cli -p "$port" mset "order:m1:$i" x "order:m2:$i" y >/dev/null
    redis-cli -p "$port" hset "order:hash:$i" f v >/dev/null
  done
  # Many commands on one connection (redis-cli reads them from stdin).
  for i in $(seq 1 20); do echo "SET order:stdin:$i v$i"; done | redis-cli -p "$port" >/dev/null
  echo "redis-cli|$t0|$(date +%s.%N)|" >>"$phases"
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr); $(redis-server --version | cut -d' ' -f1-3); $(strace -V | head -n 1)"
echo "data directories under $DATA_ROOT ($(stat -f -c %T "$DATA_ROOT"))"
echo "load: redis-benchmark -t set -n $REQUESTS -c $CLIENTS -r 100000 -d 16 at -P 1 and -P 8, then 35 redis-cli writes; appendfsync $FSYNC, under strace"
echo

kinds=(gocache)
[ "$REDIS" = 1 ] && kinds+=(redis)
for kind in "${kinds[@]}"; do
  echo "$kind: tracing" >&2
  start_traced "$kind"
  : >"$work/$kind.phases"
  load "$SPORT" "$work/$kind.phases"
  stop_traced
done

status=0
for kind in "${kinds[@]}"; do
  rc=0
  python3 - "$work/$kind.trace" "$kind" "$work/$kind.phases" <<'PY' || rc=$?
import bisect, re, sys
from collections import defaultdict

path, label, phases_path = sys.argv[1], sys.argv[2], sys.argv[3]
SLACK = 2e-6
WRITES = {b"SET", b"INCR", b"RPUSH", b"MSET", b"HSET"}
LOG = re.compile(r"/appendonlydir/[^>]*\.incr\.(gcl|aof)$")
head = re.compile(r"^(\d+) +(\d+\.\d+) (.*)$")  # strace pads short PIDs
call = re.compile(r"^([a-z0-9_]+)\((.*)\) += (-?\d+|\?)(?: [A-Z].*?)? <(\d+\.\d+)>$")
fdre = re.compile(r"^(\d+)<(TCP:\[[^\]]*\]|[^>]*)>")
strre = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')

# Join "<unfinished ...>" with its "<... resumed>" (per thread).
events = []  # (start, end, tid, name, fdpath, data, ret)
pending = {}
for line in open(path, errors="replace"):
    m = head.match(line.rstrip("\n"))
    if not m:
        continue
    tid, ts, rest = m.group(1), float(m.group(2)), m.group(3)
    if rest.endswith(" <unfinished ...>"):
        pending[tid] = (ts, rest[: -len(" <unfinished ...>")])
        continue
    if rest.startswith("<... "):
        if tid not in pending:
            continue
        ts, first = pending.pop(tid)
        rest = first + rest[rest.index(" resumed>") + len(" resumed>"):]
    c = call.match(rest)
    if not c:
        continue
    name, args, ret, dur = c.group(1), c.group(2), c.group(3), float(c.group(4))
    f = fdre.match(args)
    if not f:
        continue
    fdpath = f.group(2)
    if "\\x" in fdpath:  # -xx prints paths in hex too
        fdpath = re.sub(r"\\x([0-9a-f]{2})", lambda h: chr(int(h.group(1), 16)), fdpath)
    strs = strre.findall(args)
    if name in ("writev", "sendmsg", "pwritev"):
        data = b"".join(bytes.fromhex(s.replace("\\x", "")) for s in strs)
    else:
        data = bytes.fromhex(strs[0].replace("\\x", "")) if strs else b""
    truncated = '"...' in args
    n = int(ret) if ret != "?" else -1
    events.append((ts, ts + dur, tid, name, fdpath, data, n, truncated))
events.sort(key=lambda e: e[0])

def parse_command(buf, pos):
    """One RESP array command from buf[pos:]: (args, new_pos) or None."""
    if pos >= len(buf):
        return None
    if buf[pos:pos + 1] != b"*":  # inline
        end = buf.find(b"\n", pos)
        if end < 0:
            return None
        return buf[pos:end].strip().split(), end + 1
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    n, pos, args = int(buf[pos + 1:end]), end + 2, []
    for _ in range(n):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        ln = int(buf[pos + 1:end])
        if len(buf) < end + 2 + ln + 2:
            return None
        args.append(buf[end + 2:end + 2 + ln])
        pos = end + 2 + ln + 2
    return args, pos

def parse_reply(buf, pos):
    """The end of one RESP reply starting at buf[pos], or None."""
    if pos >= len(buf):
        return None
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, body = buf[pos:pos + 1], buf[pos + 1:end]
    pos = end + 2
    if kind in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return pos
    if kind in (b"$", b"=", b"!"):
        n = int(body)
        if n < 0:
            return pos
        return pos + n + 2 if len(buf) >= pos + n + 2 else None
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(body)
        if kind in (b"%", b"|"):
            n *= 2
        for _ in range(max(n, 0)):
            pos = parse_reply(buf, pos)
            if pos is None:
                return None
        return pos
    raise ValueError("unknown reply type %r" % kind)

READS, SENDS = {"read", "recvfrom"}, {"write", "sendto", "writev", "sendmsg"}
LOGW, SYNCS = {"pwrite64", "write", "pwritev", "writev"}, {"fdatasync", "fsync"}
log_writes = []                 # (start, end, fdpath, data, truncated)
log_syncs = defaultdict(list)   # fdpath -> [(start, end)]
conns = defaultdict(list)       # socket -> its events in order
for e in events:
    start, end, tid, name, fdpath, data, n, trunc = e
    if LOG.search(fdpath):
        if name in LOGW and n > 0:
            log_writes.append((start, end, fdpath, data, trunc))
        elif name in SYNCS and n == 0:
            log_syncs[fdpath].append((start, end))
    elif fdpath.startswith("TCP:"):
        if (name in READS or name in SENDS) and n > 0:
            conns[fdpath].append(e)

# Per log file, syncs sorted by start and the smallest end from each on.
sync_index = {}
for fdpath, ss in log_syncs.items():
    ss.sort()
    starts = [s for s, _ in ss]
    suffix_min = [0.0] * len(ss)
    best = float("inf")
    for i in range(len(ss) - 1, -1, -1):
        best = min(best, ss[i][1])
        suffix_min[i] = best
    sync_index[fdpath] = (starts, suffix_min)
lw_starts = [w[0] for w in log_writes]

def synced_before(fdpath, after, deadline):
    """Whether a sync of fdpath began at or after `after` and ended by `deadline`."""
    if fdpath not in sync_index:
        return False
    starts, suffix_min = sync_index[fdpath]
    i = bisect.bisect_left(starts, after - SLACK)
    return i < len(starts) and suffix_min[i] <= deadline + SLACK

checked, by_name, problems = 0, defaultdict(int), []
unmatched_replies = 0
answered = []  # (reply start, read-to-reply seconds) per write command

def check(sock, tid, args, read_end, reply_start):
    """The write command `args`, read by `read_end`, answered from `reply_start`."""
    global checked
    cmd = args[0].upper() if args else b""
    if cmd not in WRITES or len(args) < 2:
        return
    checked += 1
    by_name[cmd.decode()] += 1
    answered.append((reply_start, reply_start - read_end))
    key = args[1]
    holding = 0
    i = bisect.bisect_left(lw_starts, read_end - SLACK)
    while i < len(log_writes) and log_writes[i][0] <= reply_start + SLACK:
        ws, we, wpath, wdata, wtrunc = log_writes[i]
        if we <= reply_start + SLACK and (key in wdata or wtrunc):
            holding += 1
            if synced_before(wpath, we, reply_start):
                return
        i += 1
    problems.append((sock, tid, cmd.decode(), key.decode(errors="replace"),
                     read_end, reply_start, holding))

for sock, evs in conns.items():
    inbuf, outbuf, ipos, opos = b"", b"", 0, 0
    partial_at = -1  # where a reply begun in an earlier write starts
    waiting = []     # commands read whose reply has not begun: (args, read_end)
    for start, end, tid, name, fdpath, data, n, trunc in evs:
        if name in READS:
            inbuf += data[:n]
            while True:
                got = parse_command(inbuf, ipos)
                if got is None:
                    break
                args, ipos = got
                waiting.append((args, end))
        else:
            outbuf += data[:n]
            while opos < len(outbuf):
                if opos != partial_at:
                    # A reply begins in this write: it answers the oldest
                    # command waiting.
                    if waiting:
                        args, read_end = waiting.pop(0)
                        check(sock, tid, args, read_end, start)
                    else:
                        unmatched_replies += 1
                    partial_at = opos
                got = parse_reply(outbuf, opos)
                if got is None:
                    break  # its rest comes in a later write
                opos, partial_at = got, -1
        # Keep the buffers small.
        if ipos > 65536:
            inbuf, ipos = inbuf[ipos:], 0
        if opos > 65536:
            outbuf = outbuf[opos:]
            if partial_at >= 0:
                partial_at -= opos
            opos = 0

files = sorted({w[2] for w in log_writes} | set(log_syncs))
nsync = sum(len(v) for v in log_syncs.values())
nwrite = len(log_writes)
total_cmds = sum(by_name.values())
print(f"{label}: {checked} write commands checked ({', '.join(f'{v} {k}' for k, v in sorted(by_name.items()))}) "
      f"on {len(conns)} connections")
print(f"  log: {len(files)} file(s), {nwrite} writes, {nsync} syncs (fdatasync/fsync); "
      f"{total_cmds / max(nsync, 1):.2f} write commands per sync, {total_cmds / max(nwrite, 1):.2f} per log write")
all_syncs = sorted(s for ss in log_syncs.values() for s, _ in ss)
all_writes = sorted(w[0] for w in log_writes)
answered.sort()
print("  | phase | write commands | log writes | syncs | commands per sync | read-to-reply p50 / p99 ms | redis-benchmark (slowed by strace) |")
print("  |---|---:|---:|---:|---:|---:|---|")
for line in open(phases_path):
    name, t0, t1, said = line.rstrip("\n").split("|", 3)
    t0, t1 = float(t0), float(t1)
    lat = sorted(l for t, l in answered if t0 <= t <= t1)
    ns = bisect.bisect_right(all_syncs, t1) - bisect.bisect_left(all_syncs, t0)
    nw = bisect.bisect_right(all_writes, t1) - bisect.bisect_left(all_writes, t0)
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1e3 if lat else float("nan")  # noqa: E731
    print(f"  | {name} | {len(lat)} | {nw} | {ns} | {len(lat) / max(ns, 1):.2f} | {q(0.5):.3f} / {q(0.99):.3f} | {said} |")
if unmatched_replies:
    print(f"  note: {unmatched_replies} socket writes matched no command read (server-initiated?)")
if checked == 0 or nsync == 0:
    print(f"  {label}: FAIL (nothing to check: is the trace complete?)")
    sys.exit(1)
if problems:
    no_record = sum(1 for p in problems if p[6] == 0)
    print(f"  {label}: FAIL: {len(problems)} replies left before their write was synced "
          f"({no_record} with no log write holding the key between the read and the reply)")
    for sock, tid, cmd, key, r, w, holding in problems[:10]:
        print(f"    {sock} thread {tid}: {cmd} {key}: read done {r:.6f}, reply began {w:.6f} "
              f"(+{(w - r) * 1e6:.0f} us), {holding} log write(s) holding the key between, none synced in time")
    sys.exit(1)
print(f"  {label}: PASS: every reply to a write began after a log write holding its key "
      f"and an fdatasync of that file begun after it")
PY
  if [ "$kind" = gocache ]; then
    status=$rc
  elif [ "$rc" != 0 ]; then
    echo "  (redis: reported for comparison only)"
  fi
  echo
done
exit "$status"
