//! Helpers shared by the tests that run the real `leadpipe` binary.

use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (up to 30 s) until something accepts connections on `port`.
pub fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "leadpipe serve did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
