//! `leadpipe serve` as a server facing the internet: it refuses unsafe key configurations, answers only
//! localhost when its keys are off, closes slow or idle connections, and thousands of idle sockets do not lock
//! out a real client.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, http_get, Server};

/// Runs `leadpipe serve` expecting it to refuse to start: returns what it printed.
fn refused(args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpipe"));
    cmd.arg("serve")
        .arg("--port")
        .arg(free_port().to_string())
        .args(args)
        .stdin(Stdio::null());
    for var in ["API_KEY", "ADMIN_API_KEY", "PUBLIC_API_KEY"] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let out = cmd.output().expect("run leadpipe serve");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "it must refuse to start: {stderr}");
    stderr
}

#[test]
fn unsafe_key_configurations_are_refused() {
    let db = common::temp_dir("refused").join("t.db");
    let db = db.to_str().unwrap();
    assert!(refused(&["--host", "0.0.0.0", "--db", db], &[])
        .contains("refusing to listen on 0.0.0.0 without keys"));
    assert!(refused(&["--db", db], &[("API_KEY", "server-key-1")]).contains("ADMIN_API_KEY is not"));
    assert!(refused(
        &["--db", db],
        &[("API_KEY", "same-key-1"), ("ADMIN_API_KEY", "same-key-1")]
    )
    .contains("must differ"));
    assert!(refused(
        &["--db", db],
        &[
            ("PUBLIC_API_KEY", "pub-key-1"),
            ("ADMIN_API_KEY", "adm-key-1")
        ]
    )
    .contains("PUBLIC_API_KEY"));
}

fn get_with_host(port: u16, host: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn with_keys_off_only_localhost_is_answered() {
    let db = common::temp_dir("hosts").join("t.db");
    let server = Server::start(&["--db", db.to_str().unwrap()], &[]);
    assert_eq!(
        get_with_host(server.port, &format!("localhost:{}", server.port)),
        200
    );
    assert_eq!(
        get_with_host(server.port, "evil.example"),
        403,
        "a DNS-rebinding page cannot reach the open API"
    );
    drop(server);
    let keyed = Server::start(
        &["--db", db.to_str().unwrap()],
        &[
            ("API_KEY", "server-key-1"),
            ("ADMIN_API_KEY", "admin-key-1"),
        ],
    );
    assert_eq!(
        get_with_host(keyed.port, "leads.example.com"),
        200,
        "with keys set any host name may be used"
    );
}

#[test]
fn idle_sockets_cannot_lock_out_a_real_client_and_slow_ones_are_closed() {
    let db = common::temp_dir("idle").join("t.db");
    let server = Server::start(
        &["--db", db.to_str().unwrap()],
        &[
            ("LEADPIPE_MAX_CONNECTIONS", "64"),
            ("LEADPIPE_HEADER_TIMEOUT_SECS", "2"),
        ],
    );
    // Far more idle sockets than the server keeps: each new one pushes out the oldest that never sent a request.
    let idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).expect("connect"))
        .collect();
    let (status, _) = http_get(server.port, "/api/health").expect("a real client gets through");
    assert_eq!(status, 200);
    // A slow-loris that never finishes its request head is closed (the read ends instead of waiting forever).
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 256];
    let closed = match slow.read(&mut buf) {
        Ok(n) => n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        Err(e) => {
            e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut
        }
    };
    assert!(closed, "the slow connection was closed by the server");
    drop(idle);
    assert_eq!(http_get(server.port, "/api/health").unwrap().0, 200);
}
