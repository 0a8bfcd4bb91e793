//! Staying up and keeping data under pressure, over real sockets: signals,
//! failed saves, the open-file limit, idle clients, and protected mode seen
//! from another host (a network namespace of the test's own).
//!
//! Tests that need root or tools (`ip`, `prlimit`) say so and return early
//! when those are missing, rather than fail.

mod common;

use common::{Client, Resp, Server, have, info_field, wait_for};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

fn pong() -> Resp {
    Resp::Simple("PONG".into())
}

#[test]
fn sighup_is_ignored_and_sigterm_still_saves_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "v"]), Resp::ok());
    server.signal("HUP");
    // A ping after the signal was delivered proves the server outlived it.
    assert_eq!(c.call(&["PING"]), pong());
    thread::sleep(Duration::from_millis(100));
    assert!(server.is_running(), "SIGHUP killed the server");
    assert_eq!(c.call(&["PING"]), pong());
    server.signal("TERM");
    assert!(server.wait_exit().success());
    let again = Server::start_in(dir.path(), &[]);
    assert_eq!(again.client().call(&["GET", "k"]), Resp::bulk("v"));
}

/// The `-MISCONF` text, as Redis 7.0 words it.
const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

fn bgsave_and_wait(c: &mut Client) -> String {
    let saves = info_field(c, "persistence", "rdb_saves");
    let reply = c.call(&["BGSAVE"]);
    assert!(
        matches!(&reply, Resp::Simple(s) if s.starts_with("Background saving")),
        "{reply:?}"
    );
    wait_for("the background save to end", || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    let _ = saves;
    info_field(c, "persistence", "rdb_last_bgsave_status")
}

#[test]
fn a_failed_save_stops_writes_until_a_save_succeeds() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "before"]), Resp::ok());
    // A directory where the temporary file must go makes every save fail.
    let blocker = server.dir().join("dump.gcs.tmp");
    std::fs::create_dir(&blocker).unwrap();
    assert_eq!(bgsave_and_wait(&mut c), "err");
    assert_eq!(c.call(&["SET", "k", "after"]), Resp::err(MISCONF));
    assert_eq!(c.call(&["DEL", "k"]), Resp::err(MISCONF));
    assert_eq!(c.call(&["PING"]), Resp::err(MISCONF), "as in Redis");
    // Reads keep working.
    assert_eq!(c.call(&["GET", "k"]), Resp::bulk("before"));
    assert_eq!(c.call(&["DBSIZE"]), Resp::Int(1));
    // A transaction with a write is refused as a whole.
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(c.call(&["GET", "k"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["SET", "k", "x"]), Resp::err(MISCONF));
    let exec = c.call(&["EXEC"]);
    assert!(
        matches!(&exec, Resp::Error(e) if e.starts_with("EXECABORT")),
        "{exec:?}"
    );
    // The setting turns it off and on.
    assert_eq!(
        c.call(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]),
        Resp::ok()
    );
    assert_eq!(c.call(&["SET", "k", "allowed"]), Resp::ok());
    assert_eq!(
        c.call(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]),
        Resp::ok()
    );
    assert_eq!(c.call(&["SET", "k", "x"]), Resp::err(MISCONF));
    // The line protocol gets it too (on a connection of its own: after a
    // RESP request, inline requests are answered in RESP).
    assert_eq!(
        server.client().line("SET k y"),
        format!("(error) {MISCONF}\n")
    );
    // Once a save succeeds, writes are accepted again.
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(bgsave_and_wait(&mut c), "ok");
    assert_eq!(c.call(&["SET", "k", "later"]), Resp::ok());
    assert_eq!(c.call(&["PING"]), pong());
}

#[test]
fn without_save_points_a_failed_save_does_not_stop_writes() {
    let server = Server::start_with(&["--save", ""]);
    let mut c = server.client();
    std::fs::create_dir(server.dir().join("dump.gcs.tmp")).unwrap();
    assert_eq!(bgsave_and_wait(&mut c), "err");
    assert_eq!(c.call(&["SET", "k", "v"]), Resp::ok());
}

/// The soft limit on open files of `pid`, from `/proc/PID/limits`.
fn open_files_soft_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// The hard limit on open files of this test process.
fn own_hard_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace()
        .nth(4)
        .unwrap()
        .parse()
        .unwrap_or(u64::MAX)
}

#[test]
fn the_soft_open_file_limit_is_raised_to_serve_maxclients() {
    if own_hard_limit() < 1100 {
        eprintln!("skipped: the hard open-file limit is below 1100");
        return;
    }
    let server = Server::start_through(
        &["bash", "-c", "ulimit -S -n 256 && exec \"$0\" \"$@\""],
        &["--maxclients", "1000"],
    );
    assert!(open_files_soft_limit(server.pid()) >= 1032);
    let mut c = server.client();
    assert_eq!(info_field(&mut c, "clients", "maxclients"), "1000");
}

#[test]
fn maxclients_is_lowered_to_what_the_file_limit_allows_and_logged_once() {
    let server = Server::start_through(
        &["bash", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""],
        &["--maxclients", "1000"],
    );
    server.wait_for_stderr("maxclients lowered from 1000 to 32");
    let mut clients: Vec<Client> = (0..32).map(|_| server.client()).collect();
    for c in &mut clients {
        assert_eq!(c.call(&["PING"]), pong());
    }
    let mut refused = server.client();
    refused.send("PING\r\n");
    refused.expect("(error) ERR max number of clients reached\n");
    let c = &mut clients[0];
    assert_eq!(info_field(c, "clients", "maxclients"), "32");
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxclients", "100"]),
        Resp::err(
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with 32"
        )
    );
    assert_eq!(
        server.stderr_text().matches("maxclients lowered").count(),
        1,
        "logged once"
    );
}

#[test]
fn a_limit_too_low_for_any_client_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    // Bounded by `timeout`: a server that starts anyway is stopped, and fails.
    let out = Command::new("timeout")
        .args(["20", "bash", "-c", "ulimit -n 30 && exec \"$0\" \"$@\""])
        .arg(common::binary())
        .args(["--port", "0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ulimit -n"), "{stderr}");
}

#[test]
fn sigterm_with_the_descriptor_table_full_still_completes_the_final_save() {
    if !have("prlimit") {
        eprintln!("skipped: prlimit is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &["--save", ""]);
    let mut c = server.client();
    for i in 0..100 {
        assert_eq!(c.call(&["SET", &format!("k{i}"), "v"]), Resp::ok());
    }
    let mut clients: Vec<Client> = (0..20).map(|_| server.client()).collect();
    for c in &mut clients {
        assert_eq!(c.call(&["PING"]), pong());
    }
    // Lower the limit to the lowest descriptor number not in use: a new
    // descriptor would take that number, so nothing more can be opened.
    let used: std::collections::HashSet<u64> =
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
    let lowest_free = (0..).find(|n| !used.contains(n)).unwrap();
    let status = Command::new("prlimit")
        .arg("--pid")
        .arg(server.pid().to_string())
        .arg(format!("--nofile={lowest_free}:{lowest_free}"))
        .status()
        .unwrap();
    assert!(status.success());
    // A new client is not left hanging: it is told, and closed. (An accept
    // already waiting when the limit dropped holds a descriptor, so the
    // first one may still be served.)
    let refused = (0..3).any(|_| {
        let mut late = server.client();
        late.send("*1\r\n$4\r\nPING\r\n");
        late.read_resp() == Resp::err("ERR max number of clients reached")
    });
    assert!(refused, "{}", server.stderr_text());
    let started = Instant::now();
    server.signal("TERM");
    assert!(server.wait_exit().success(), "{}", server.stderr_text());
    let seconds = started.elapsed().as_secs() + 2;
    let accept_warnings = server.stderr_text().matches("accept failed").count() as u64;
    assert!(
        accept_warnings <= seconds,
        "{accept_warnings} accept warnings"
    );
    let again = Server::start_in(dir.path(), &[]);
    assert_eq!(again.client().call(&["DBSIZE"]), Resp::Int(100));
}

#[test]
fn idle_clients_are_closed_and_trickling_ones_cannot_hold_every_slot() {
    let server = Server::start_with(&["--timeout", "1", "--maxclients", "4"]);
    let mut active = server.client();
    assert_eq!(active.call(&["PING"]), pong());
    // Three clients take the other slots and trickle a request they never finish.
    let mut tricklers: Vec<Client> = (0..3).map(|_| server.client()).collect();
    let mut refused = server.client();
    refused.send("PING\r\n");
    refused.expect("(error) ERR max number of clients reached\n");
    let started = Instant::now();
    let mut closed = 0;
    while closed < 3 && started.elapsed() < common::DEADLINE {
        closed = 0;
        for t in &mut tricklers {
            if t.try_send("P").is_err() {
                closed += 1;
            }
        }
        // The active client keeps completing requests and stays.
        assert_eq!(active.call(&["PING"]), pong());
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(closed, 3, "the trickling clients were closed");
    // Their slots are free again.
    wait_for("a free slot", || {
        let mut c = server.client();
        c.send("*1\r\n$4\r\nPING\r\n");
        c.try_read_resp().is_ok_and(|r| r == pong())
    });
    assert_eq!(active.call(&["PING"]), pong());
}

/// A network namespace with a veth pair to this one: the server runs
/// inside it, bound beyond loopback, and the test connects from outside,
/// so the server sees a client from another host. Removed on drop.
struct OtherHost {
    name: String,
    /// The namespace's address, as the test reaches it.
    inside: String,
}

impl OtherHost {
    /// Creates one, or `None` if this machine does not let the test (not
    /// root, no `ip`, no network namespaces).
    fn create(tag: u32) -> Option<OtherHost> {
        let root = std::fs::read_to_string("/proc/self/status")
            .ok()?
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        if !root || !have("ip") {
            return None;
        }
        let id = std::process::id() % 200 + tag;
        let name = format!("gocache-test-{}-{tag}", std::process::id());
        let (outer, inner) = (format!("gco{id}"), format!("gci{id}"));
        let subnet = format!("10.{}.{}", 200 + tag, id % 250);
        let host = OtherHost {
            name: name.clone(),
            inside: format!("{subnet}.2"),
        };
        let ip = |args: &str| {
            Command::new("ip")
                .args(args.split_whitespace())
                .status()
                .is_ok_and(|s| s.success())
        };
        let ok = ip(&format!("netns add {name}"))
            && ip(&format!("link add {outer} type veth peer name {inner}"))
            && ip(&format!("link set {inner} netns {name}"))
            && ip(&format!("addr add {subnet}.1/30 dev {outer}"))
            && ip(&format!("link set {outer} up"))
            && ip(&format!(
                "netns exec {name} ip addr add {subnet}.2/30 dev {inner}"
            ))
            && ip(&format!("netns exec {name} ip link set {inner} up"))
            && ip(&format!("netns exec {name} ip link set lo up"));
        if !ok {
            let _ = ip(&format!("link del {outer}"));
            return None;
        }
        Some(host)
    }

    /// Starts gocache inside, bound to every address.
    fn start(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--bind", "0.0.0.0"];
        args.extend_from_slice(extra);
        Server::start_through(&["ip", "netns", "exec", &self.name], &args)
    }

    /// A client from outside the namespace.
    fn client(&self, server: &Server) -> Client {
        Client::connect(
            format!("{}:{}", self.inside, server.addr.port())
                .parse()
                .unwrap(),
        )
    }

    /// Sends `request` from inside the namespace over loopback; returns the
    /// first `n` bytes of the reply.
    fn loopback(&self, server: &Server, request: &str, n: usize) -> String {
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{}; printf '{request}' >&3; timeout 10 head -c {n} <&3",
            server.addr.port()
        );
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "bash", "-c", &script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for OtherHost {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the veth pair, and so both.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn protected_mode_denies_other_hosts_until_a_password_or_no() {
    let Some(host) = OtherHost::create(1) else {
        eprintln!("skipped: needs root, iproute2 and network namespaces");
        return;
    };
    let server = host.start(&[]);
    // From another host: denied, in the dialect of the first byte, and closed.
    let mut c = host.client(&server);
    c.send("*1\r\n$4\r\nPING\r\n");
    let denied = String::from_utf8_lossy(
        &c.read_until(|b| b.windows(2).position(|w| w == b"\r\n").map(|i| i + 2)),
    )
    .into_owned();
    assert!(
        denied.starts_with("-DENIED gocache is running in protected mode"),
        "{denied}"
    );
    assert!(denied.contains("--protected-mode no") && denied.contains("requirepass"));
    c.expect_eof();
    let mut c = host.client(&server);
    c.send("PING\n");
    assert!(
        c.read_line()
            .starts_with("(error) DENIED gocache is running in protected mode")
    );
    // From loopback it serves, and there it can be turned off.
    assert_eq!(host.loopback(&server, "PING\\r\\n", 5), "PONG\n");
    assert_eq!(
        host.loopback(&server, "CONFIG SET protected-mode no\\r\\n", 3),
        "OK\n"
    );
    let mut c = host.client(&server);
    assert_eq!(c.call(&["PING"]), pong());

    // With a password set, other hosts may connect (and must AUTH).
    let locked = host.start(&["--requirepass", "pw"]);
    let mut c = host.client(&locked);
    assert_eq!(
        c.call(&["GET", "k"]),
        Resp::err("NOAUTH Authentication required.")
    );
    assert_eq!(c.call(&["AUTH", "pw"]), Resp::ok());
    assert_eq!(c.call(&["PING"]), pong());

    // And with protected mode off from the start.
    let open = host.start(&["--protected-mode", "no"]);
    assert_eq!(host.client(&open).call(&["PING"]), pong());
}
