//! Helpers shared by the tests that run the real `leadpipe` binary.
//!
//! [`Server`] starts `leadpipe serve` with its stdout and stderr captured to files, waits until it is ready (it
//! printed that it listens on its port and `GET /api/health` answers 200), and shows what it printed whenever a test
//! fails: in the panic message when it does not start, and on stderr when it is dropped during a panic.

// Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long `leadpipe serve` may take to become ready (a debug build on a busy 2-core machine; DynamoDB table
/// creation included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a port is drawn again when another process took it between [`free_port`] and the server's bind.
const BIND_ATTEMPTS: usize = 5;

/// A loopback port nobody listens on right now (another process may take it before it is used: [`Server::start`]
/// draws again when its bind fails).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh, empty folder under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("leadpipe-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `leadpipe serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// Its status once it was reaped.
    status: Option<ExitStatus>,
    pub port: u16,
    pub base: String,
    logs: PathBuf,
}

impl Server {
    /// Runs `leadpipe serve --port PORT ARGS...` with `API_KEY`, `ADMIN_API_KEY` and the AWS credential variables
    /// removed from the environment, then `envs`; returns once the server answers `GET /api/health` with 200.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        for attempt in 1..=BIND_ATTEMPTS {
            let logs = temp_dir("serve-logs");
            let port = free_port();
            let stdout = std::fs::File::create(logs.join("stdout")).unwrap();
            let stderr = std::fs::File::create(logs.join("stderr")).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpipe"));
            cmd.arg("serve")
                .arg("--port")
                .arg(port.to_string())
                .args(args);
            cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
            for var in [
                "API_KEY",
                "ADMIN_API_KEY",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_REGION",
                "AWS_PROFILE",
            ] {
                cmd.env_remove(var);
            }
            for (k, v) in envs {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("start leadpipe serve");
            let mut server = Server {
                child,
                status: None,
                port,
                base: format!("http://127.0.0.1:{port}"),
                logs,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                // Another process took the port after free_port() released it: draw another one.
                Err(status)
                    if attempt < BIND_ATTEMPTS && server.stderr().contains("cannot listen on") =>
                {
                    eprintln!("leadpipe serve could not bind port {port} ({status}); retrying on another port");
                    server.status = Some(status);
                }
                Err(status) => panic!(
                    "leadpipe serve exited before it was ready ({status}).\n{}",
                    server.logs_report()
                ),
            }
        }
        unreachable!()
    }

    /// Waits until the server printed that it listens (so the port is its own) and `/api/health` answers 200.
    /// `Err` when the process exited first.
    fn wait_ready(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            let last = if self.stderr().contains("Leadpipe is running") {
                match http_get(self.port, "/api/health") {
                    Ok((200, _)) => return Ok(()),
                    Ok((status, body)) => format!("GET /api/health answered {status}: {body}"),
                    Err(e) => format!("GET /api/health failed: {e}"),
                }
            } else {
                "it has not printed \"Leadpipe is running\" yet".to_string()
            };
            if Instant::now() > deadline {
                panic!("leadpipe serve was not ready on port {} within {READY_TIMEOUT:?} ({last}).\n{}", self.port, self.logs_report());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        read_lossy(&self.logs.join("stderr"))
    }

    /// What the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.logs.join("stdout"))
    }

    /// Both captured streams, labelled, for failure messages.
    pub fn logs_report(&self) -> String {
        format!(
            "----- leadpipe serve (port {}) stderr -----\n{}\n----- stdout -----\n{}\n----- end of leadpipe serve output -----",
            self.port,
            self.stderr().trim_end(),
            self.stdout().trim_end()
        )
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) -> ExitStatus {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = Some(self.child.wait().unwrap());
        }
        self.status.unwrap()
    }

    /// Sends SIGTERM.
    pub fn send_sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "kill -TERM {} failed.\n{}",
            self.child.id(),
            self.logs_report()
        );
    }

    /// Waits up to `timeout` for the process to exit; panics (with its logs) when it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        while self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
            if self.status.is_none() {
                assert!(
                    Instant::now() < deadline,
                    "leadpipe serve did not exit within {timeout:?}.\n{}",
                    self.logs_report()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.status.unwrap()
    }

    /// SIGTERM, waits for the exit (15 s at most), asserts it was clean and returns what the server printed on stderr.
    pub fn terminate(mut self) -> String {
        self.send_sigterm();
        let status = self.wait_exit(Duration::from_secs(15));
        assert!(
            status.success(),
            "leadpipe serve exited with {status} after SIGTERM.\n{}",
            self.logs_report()
        );
        self.stderr()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // Shown by the test harness with the failing test's output.
            eprintln!(
                "{}\n(logs kept in {})",
                self.logs_report(),
                self.logs.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.logs);
        }
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A plain HTTP/1.1 GET on 127.0.0.1:`port`: (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
