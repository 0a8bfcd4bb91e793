#!/usr/bin/env python3
"""Exercise gocache with the `redis` client library, as an application would.

Usage: compat_client.py PORT PROTOCOL
       compat_client.py --auth PORT PASSWORD PROTOCOL

PROTOCOL is `default` (whatever the installed redis-py opens with: RESP3 on
redis-py 8), `2` or `3`. Prints one line per check and exits non-zero on the
first failure. With --auth, checks a server started with --requirepass
PASSWORD instead.
"""

import sys

import redis


def check(name, got, want):
    if got != want:
        raise AssertionError(f"{name}: expected {want!r}, got {got!r}")
    print(f"  ok {name}")


def connect(port, protocol, **kw):
    args = dict(host="127.0.0.1", port=port, decode_responses=True,
                socket_timeout=10, socket_connect_timeout=10, **kw)
    if protocol != "default":
        args["protocol"] = int(protocol)
    return redis.Redis(**args)


def negotiated_protocol(r):
    info = r.client_info()
    return int(info["resp"])


def run(port, protocol):
    r = connect(port, protocol)
    check("ping", r.ping(), True)
    resp = negotiated_protocol(r)
    print(f"  redis-py {redis.__version__}, protocol={protocol}: "
          f"the connection speaks RESP{resp}")
    if protocol in ("2", "3"):
        check("negotiated protocol", resp, int(protocol))
    prefix = f"compat:{protocol}:"
    k = lambda name: prefix + name  # noqa: E731

    check("set with ex=", r.set(k("s"), "vimla", ex=100), True)
    check("get", r.get(k("s")), "vimla")
    ttl = r.ttl(k("s"))
    check("ttl after ex=100 within 98..100", 98 <= ttl <= 100, True)
    check("get missing", r.get(k("missing")), None)
    check("delete", r.delete(k("s")), 1)
    check("delete again", r.delete(k("s")), 0)

    r.set(k("e"), "1")
    check("ttl without deadline", r.ttl(k("e")), -1)
    check("expire", r.expire(k("e"), 100), True)
    check("ttl after expire", 98 <= r.ttl(k("e")) <= 100, True)
    check("persist", r.persist(k("e")), True)
    check("ttl of missing key", r.ttl(k("missing")), -2)

    check("incr", r.incr(k("n")), 1)
    check("incrby", r.incr(k("n"), 41), 42)
    check("decr", r.decr(k("n")), 41)
    check("incrbyfloat", r.incrbyfloat(k("f"), 1.5), 1.5)
    try:
        r.set(k("text"), "abc")
        r.incr(k("text"))
        raise AssertionError("INCR of text should fail")
    except redis.exceptions.ResponseError as e:
        check("incr of text raises", str(e), "value is not an integer or out of range")

    check("mset", r.mset({k("a"): "1", k("b"): "2"}), True)
    check("mget", r.mget([k("a"), k("b"), k("missing")]), ["1", "2", None])

    with r.pipeline(transaction=True) as p:
        p.set(k("t"), "1").incr(k("t")).get(k("t")).exists(k("t"))
        check("transactional pipeline", p.execute(), [True, 2, "2", 1])
    try:
        with r.pipeline(transaction=True) as p:
            p.set(k("t"), "changed")
            p.execute_command("NOSUCHCOMMAND")
            p.execute()
        raise AssertionError("a queuing error should abort the transaction")
    except redis.exceptions.ResponseError as e:
        print(f"  ok aborted transaction raises: {type(e).__name__}: {e}")
    check("aborted transaction left the key", r.get(k("t")), "2")

    # Optimistic locking: redis-py's transaction() helper WATCHes, runs the
    # function, and retries on WatchError. The first attempt is made to
    # lose: another client writes the watched key between WATCH and EXEC.
    other = connect(port, protocol)
    r.set(k("w"), "10")
    attempts = []

    def double(pipe):
        value = int(pipe.get(k("w")))
        attempts.append(value)
        if len(attempts) == 1:
            other.incr(k("w"))
        pipe.multi()
        pipe.set(k("w"), value * 2)

    r.transaction(double, k("w"))
    check("transaction() retried after the watched key changed", attempts, [10, 11])
    check("transaction() applied the retry", r.get(k("w")), "22")
    with r.pipeline() as p:
        p.watch(k("w"))
        other.set(k("w"), "0")
        p.multi()
        p.set(k("w"), "lost")
        try:
            p.execute()
            raise AssertionError("EXEC after a watched write should raise WatchError")
        except redis.exceptions.WatchError as e:
            print(f"  ok a broken watch raises WatchError: {e}")
    check("the losing transaction wrote nothing", r.get(k("w")), "0")
    db1 = connect(port, protocol, db=1)
    db1.set(k("w"), "in db 1")
    check("databases are separate", (r.get(k("w")), db1.get(k("w"))), ("0", "in db 1"))
    check("move to db 1 refused when present", r.move(k("w"), 1), False)
    db1.delete(k("w"))
    check("move to db 1", r.move(k("w"), 1), True)
    check("moved key", (r.get(k("w")), db1.get(k("w"))), (None, "0"))
    db1.delete(k("w"))
    db1.close()
    other.close()

    keys = {k(f"scan:{i}") for i in range(500)}
    with r.pipeline(transaction=False) as p:
        for key in keys:
            p.set(key, "x")
        p.execute()
    check("scan_iter finds every key",
          set(r.scan_iter(match=k("scan:*"), count=50)), keys)

    info = r.info()
    check("info redis_version", info["redis_version"], "7.0.15")
    check("info has gocache_version", "gocache_version" in info, True)
    check("info used_memory is a number", isinstance(info["used_memory"], int), True)
    keyspace = r.info("keyspace")
    check("info keyspace db0 keys", keyspace["db0"]["keys"], r.dbsize())
    stats = r.info("stats")
    check("info stats counters",
          all(f in stats for f in ("total_commands_processed",
                                   "instantaneous_ops_per_sec", "expired_keys",
                                   "keyspace_hits", "keyspace_misses")), True)
    check("config_get maxmemory", r.config_get("maxmemory"), {"maxmemory": "0"})
    check("getex", r.getex(k("a"), ex=100), "1")
    check("rename", r.rename(k("a"), k("a2")), True)
    check("getdel", r.getdel(k("a2")), "1")
    check("time", len(r.time()), 2)
    check("select 0", r.execute_command("SELECT", 0), True)
    check("client setname", r.client_setname("compat"), True)
    check("client getname", r.client_getname(), "compat")
    r.delete(*list(r.scan_iter(match=prefix + "*")))
    check("cleaned up", list(r.scan_iter(match=prefix + "*")), [])
    r.close()


def run_auth(port, password, protocol):
    try:
        connect(port, protocol, password="wrong").ping()
        raise AssertionError("a wrong password should be refused")
    except redis.exceptions.AuthenticationError as e:
        print(f"  ok wrong password raises AuthenticationError: {e}")
    try:
        connect(port, protocol).get("x")
        raise AssertionError("no password should be refused")
    except redis.exceptions.AuthenticationError as e:
        print(f"  ok no password raises AuthenticationError: {e}")
    r = connect(port, protocol, password=password)
    check("right password", r.ping(), True)
    check("set after auth", r.set("auth:k", "v"), True)
    check("get after auth", r.get("auth:k"), "v")
    r.close()


def main():
    if sys.argv[1] == "--auth":
        port, password, protocol = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        print(f"redis-py {redis.__version__} against 127.0.0.1:{port} "
              f"(requirepass), protocol={protocol}")
        run_auth(port, password, protocol)
    else:
        port, protocol = int(sys.argv[1]), sys.argv[2]
        print(f"redis-py {redis.__version__} against 127.0.0.1:{port}, protocol={protocol}")
        run(port, protocol)
    print(f"redis-py protocol={protocol}: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report any failure as a failed run
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
