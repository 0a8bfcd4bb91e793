#!/usr/bin/env python3
"""limits_bench: what hostile or careless clients cost gocache and Redis.

Measures, for each server given, the scenarios of issue 9 (the README's
"Security and limits"), with the standard library only:

  trickle_cpu_s     CPU time the server spends on one 1,000,000-argument
                    EXISTS sent in 2,000 pieces, 1 ms apart (the request
                    re-parsed from its start on every read costs far more)
  whole_cpu_s       the same request sent at once, for comparison
  set_512mib_peak   peak resident memory (VmHWM) growth of one 512 MiB SET,
                    in MiB
  hello_reply_b     bytes of the error reply to HELLO 3 <64 MiB argument>
  hello_peak_mib    peak memory growth while answering it
  mget_idle_mib     resident memory still held, per connection, by 4 idle
                    connections after each ran a 1,048,575-key MGET
  unauth_mib        memory growth while 4 unauthenticated clients each
                    announce a 512 MiB bulk and send 128 MiB of it (servers
                    started with a password)
  expire_mib        memory growth after 1,000 EXPIREs of one 1 MiB key
  expire_after_del  memory growth left 3 s after that key is deleted

Usage: limits_bench.py [--rounds N] NAME=COMMAND... where COMMAND starts a
server on the port given as {port} with password {password} when the
scenario needs one, e.g.

  gocache='target/release/gocache --port {port} --dir /tmp/x --save "" {auth}'
  redis='redis-server --port {port} --save "" --appendonly no {auth}'

{auth} becomes `--requirepass PASSWORD` for the scenarios that need it. The
servers run in turn, A, B, A, B, a fresh process per scenario and round; each
is stopped by its PID. Prints one table of medians. Linux only (/proc).
"""

import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PASSWORD = "limits-bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_reply(sock):
    """Reads one whole RESP reply; returns its raw bytes."""
    buf = bytearray()
    while True:
        end = parse(buf, 0)
        if end is not None:
            return bytes(buf[:end])
        chunk = sock.recv(1 << 20)
        if not chunk:
            return bytes(buf)
        buf += chunk


def read_exactly(sock, n):
    """Reads exactly `n` bytes (a reply whose size is known)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def parse(buf, at):
    nl = buf.find(b"\r\n", at)
    if nl < 0:
        return None
    kind, head = buf[at : at + 1], buf[at + 1 : nl]
    if kind in (b"+", b"-", b":", b"_", b",", b"#"):
        return nl + 2
    n = int(head)
    if kind in (b"$", b"="):
        if n < 0:
            return nl + 2
        end = nl + 2 + n + 2
        return end if len(buf) >= end else None
    pos = nl + 2
    for _ in range(max(n, 0) * (2 if kind == b"%" else 1)):
        pos = parse(buf, pos)
        if pos is None:
            return None
    return pos


class Server:
    def __init__(self, template, auth):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="limits-bench-")
        command = template.format(
            port=self.port,
            dir=self.dir,
            auth=f"--requirepass {PASSWORD}" if auth else "",
        )
        self.proc = subprocess.Popen(
            shlex.split(command),
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while True:
            try:
                self.connect().close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"server did not start: {command}")
                time.sleep(0.05)
        self.pid = self.proc.pid

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def rss(self):
        return status_kib(self.pid, "VmRSS")

    def hwm(self):
        return status_kib(self.pid, "VmHWM")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


def settle(server, seconds=0.3):
    time.sleep(seconds)
    return server.rss()


def trickle(server):
    args = ["EXISTS"] + [f"key:{i}" for i in range(1_000_000)]
    request = encode(*args)
    s = server.connect()
    cpu = cpu_seconds(server.pid)
    s.sendall(request)
    read_reply(s)
    whole = cpu_seconds(server.pid) - cpu
    step = len(request) // 2000 + 1
    cpu = cpu_seconds(server.pid)
    for i in range(0, len(request), step):
        s.sendall(request[i : i + step])
        time.sleep(0.001)
    read_reply(s)
    trickled = cpu_seconds(server.pid) - cpu
    s.close()
    return {"whole_cpu_s": whole, "trickle_cpu_s": trickled}


def big_set(server):
    s = server.connect()
    before = server.rss()
    size = 512 << 20
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
    chunk = b"v" * (1 << 20)
    for _ in range(size // len(chunk)):
        s.sendall(chunk)
    s.sendall(b"\r\n")
    read_reply(s)
    s.close()
    return {"set_512mib_peak": (server.hwm() - before) / 1024}


def hello(server):
    s = server.connect()
    before = server.rss()
    s.sendall(encode("HELLO", "3", b"z" * (64 << 20)))
    reply = read_reply(s)
    s.close()
    return {"hello_reply_b": len(reply), "hello_peak_mib": (server.hwm() - before) / 1024}


def mget(server):
    keys = 1_048_575
    request = encode("MGET", *[f"k{i}" for i in range(keys)])
    # The array header and a nil ($-1) per missing key.
    reply_len = len(b"*%d\r\n" % keys) + 5 * keys
    before = settle(server)
    conns = []
    for _ in range(4):
        s = server.connect()
        s.sendall(request)
        read_exactly(s, reply_len)
        conns.append(s)
    held = (settle(server, 1.0) - before) / 1024 / 4
    for s in conns:
        s.close()
    return {"mget_idle_mib": held}


def unauth(server):
    before = settle(server)
    body = b"x" * (1 << 20)
    conns = []
    for _ in range(4):
        s = server.connect()
        conns.append(s)
        try:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n")
            for _ in range(128):
                s.sendall(body)
        except OSError:
            pass
    grown = (settle(server) - before) / 1024
    for s in conns:
        s.close()
    return {"unauth_mib": grown}


def expire(server):
    s = server.connect()
    key = b"k" * (1 << 20)
    s.sendall(encode("SET", key, "v"))
    read_reply(s)
    before = settle(server)
    for i in range(1000):
        s.sendall(encode("EXPIRE", key, str(10_000 + i)))
        read_reply(s)
    grown = (settle(server) - before) / 1024
    s.sendall(encode("DEL", key))
    read_reply(s)
    left = (settle(server, 3.0) - before) / 1024
    s.close()
    return {"expire_mib": grown, "expire_after_del": left}


SCENARIOS = [
    (trickle, False),
    (big_set, False),
    (hello, False),
    (mget, False),
    (unauth, True),
    (expire, False),
]


def main():
    argv = sys.argv[1:]
    rounds = 3
    if argv[:1] == ["--rounds"]:
        rounds, argv = int(argv[1]), argv[2:]
    servers = [a.split("=", 1) for a in argv]
    if not servers:
        sys.exit(__doc__)
    results = {name: {} for name, _ in servers}
    for r in range(rounds):
        for scenario, auth in SCENARIOS:
            for name, template in servers:
                server = Server(template, auth)
                try:
                    for field, value in scenario(server).items():
                        results[name].setdefault(field, []).append(value)
                finally:
                    server.stop()
        print(f"round {r + 1} of {rounds} done", file=sys.stderr)
    fields = [f for f in results[servers[0][0]]]
    print("| measure | " + " | ".join(n for n, _ in servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for field in fields:
        cells = []
        for name, _ in servers:
            values = results[name].get(field, [])
            median = statistics.median(values) if values else float("nan")
            spread = f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""
            cells.append(f"{median:.2f}{spread}")
        print(f"| {field} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
