//! `weir-probe`: the container image's health check, an HTTP GET against the runtime's own
//! listener that exits 0 on a 2xx answer and 1 otherwise.
//!
//! The runtime image has no shell and no HTTP client (nothing an intruder could use), so
//! `HEALTHCHECK` needs a binary of its own. This is it: std only, built with a plain `rustc`
//! (see `scripts/images`), a few hundred KB.
//!
//! ```text
//! weir-probe [PATH] [--timeout SECONDS]     PATH defaults to /healthz
//! ```
//!
//! The address is the runtime's: `WEIR_LISTEN` (default `127.0.0.1:8080`), with an unspecified
//! address (`0.0.0.0`, `[::]`) replaced by loopback. It does not own: what a healthy runtime is
//! (that is `/healthz`'s business), and Kubernetes probes (they call the endpoint themselves).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match probe() {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("weir-probe: HTTP {status}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("weir-probe: {err}");
            ExitCode::FAILURE
        }
    }
}

fn probe() -> Result<u16, String> {
    let mut path = String::from("/healthz");
    let mut timeout = Duration::from_secs(3);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--timeout" {
            let secs: u64 = args
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("--timeout needs a number of seconds")?;
            timeout = Duration::from_secs(secs);
        } else if arg.starts_with('/') {
            path = arg;
        } else {
            return Err(format!("usage: weir-probe [/PATH] [--timeout SECONDS], not `{arg}`"));
        }
    }
    let listen = std::env::var("WEIR_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let addr = loopback(&listen)?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send to {addr}: {e}"))?;
    // The status line fits in the first few bytes; read until it is complete.
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer from {addr}: {:?}", line.lines().next()))?;
    Ok(status)
}

/// The socket address to reach a listener bound to `listen`.
fn loopback(listen: &str) -> Result<SocketAddr, String> {
    let mut addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("WEIR_LISTEN `{listen}`: {e}"))?
        .next()
        .ok_or_else(|| format!("WEIR_LISTEN `{listen}` names no address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(addr)
}
