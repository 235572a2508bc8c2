//! A real `redis-server` per test, on a free loopback port, killed when dropped; and the child
//! processes that play the other replicas of a fleet.
//!
//! A test that needs the server fails (never skips) when `redis-server` is missing.
#![allow(dead_code)] // each test binary uses its part

pub mod calls;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of this test's own.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    l.local_addr().unwrap().port()
}

impl Server {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Server {
        Server::start_on(free_port())
    }

    /// Starts a server on `port` (a restart) and waits until it answers `PING`.
    pub fn start_on(port: u16) -> Server {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `redis-server` ({e}): these tests need a real Redis server. \
                     Install it (Debian: `apt-get install redis-server`); `.ci/run` does"
                )
            });
        let server = Server {
            child: Some(child),
            port,
        };
        // readiness: poll until it answers (bounded), not a timing assumption
        let start = Instant::now();
        loop {
            if server.command(&["PING"]).is_some_and(|r| r == "+PONG") {
                return server;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server on port {port} did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one command (RESP), returns the first line of the reply, or a bulk string's
    /// value (`None`: no answer).
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        if line.starts_with('$') && !line.starts_with("$-1") {
            line.clear();
            r.read_line(&mut line).ok()?;
        }
        Some(line.trim_end().to_owned())
    }

    /// The server's clock, in µs since the epoch (`TIME`).
    pub fn time_us(&self) -> u64 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("redis answers");
        s.write_all(b"*1\r\n$4\r\nTIME\r\n").unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 128];
        // *2 $10 secs $6 micros: read until both bulk strings are in
        while buf.iter().filter(|&&b| b == b'\n').count() < 5 {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "TIME: connection closed");
            buf.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        let secs: u64 = lines[2].parse().unwrap();
        let micros: u64 = lines[4].parse().unwrap();
        secs * 1_000_000 + micros
    }

    /// Kills the server (an outage).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The variable that tells a test binary it runs as a child replica, and which.
pub const ROLE: &str = "STAUNCH_TEST_REPLICA";

/// Runs this test binary's test `test` as a child replica with `role` and the extra variables,
/// returning its stdout (it must succeed).
pub fn spawn_replica(test: &str, role: &str, vars: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn()
        .expect("the test binary runs itself as a replica")
}

/// Waits for a replica, and returns the value of its `result=` line.
pub fn replica_result(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "replica failed: {text}");
    text.lines()
        .find_map(|l| l.split_once("result=").map(|(_, r)| r.trim()))
        .unwrap_or_else(|| panic!("replica printed no result: {text}"))
        .to_owned()
}
