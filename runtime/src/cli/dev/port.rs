//! [`FixedPort`]: the port `weir dev` gives its embedded broker, so that
//! `export WEIR_BROKERS=127.0.0.1:9092` keeps working from one run to the next.
//!
//! librdkafka's mock cluster binds a port of the kernel's choosing, and rust-rdkafka offers no
//! way to choose it. So `weir dev` listens on the fixed port itself and relays each connection
//! to the mock's port. A Kafka client only bootstraps there: the metadata it gets back names
//! the mock broker at its own port (also on 127.0.0.1), where it then connects directly. Both
//! ports are loopback only, like the mock itself.
//!
//! This file owns the listener and the relays; it knows nothing of Kafka.

use anyhow::{Context, Result};
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The port `weir dev` tries when `--port` does not name one.
pub const DEFAULT_PORT: u16 = 9092;

/// A loopback port that relays every connection to the embedded broker.
pub struct FixedPort {
    address: SocketAddr,
}

/// Why the fixed port could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Something else listens there (another broker, another `weir dev`).
    #[error("port {0} of 127.0.0.1 is in use (another Kafka broker, or another `weir dev`?)")]
    InUse(u16),
    /// Any other failure to listen.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen {
        /// The port.
        port: u16,
        /// Why.
        source: io::Error,
    },
    /// The relay thread did not start.
    #[error("cannot start the relay of port {port}: {source}")]
    Thread {
        /// The port.
        port: u16,
        /// Why.
        source: io::Error,
    },
}

impl FixedPort {
    /// Listens on 127.0.0.1:`port` and relays every connection to `broker` (`host:port`), on
    /// threads that live as long as the process.
    pub fn open(port: u16, broker: SocketAddr) -> Result<Self, PortError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|source| match source.kind() {
            ErrorKind::AddrInUse => PortError::InUse(port),
            _ => PortError::Listen { port, source },
        })?;
        let address = listener
            .local_addr()
            .map_err(|source| PortError::Listen { port, source })?;
        std::thread::Builder::new()
            .name(format!("weir-dev-port-{port}"))
            .spawn(move || accept(&listener, broker))
            .map_err(|source| PortError::Thread { port, source })?;
        Ok(FixedPort { address })
    }

    /// `127.0.0.1:PORT`, as clients bootstrap from it.
    pub fn bootstrap(&self) -> String {
        self.address.to_string()
    }
}

/// The first address of a bootstrap list (`127.0.0.1:39275,...`).
pub fn first_broker(bootstrap: &str) -> Result<SocketAddr> {
    let first = bootstrap.split(',').next().unwrap_or(bootstrap).trim();
    first
        .parse()
        .with_context(|| format!("the embedded broker's address `{first}` is not host:port"))
}

fn accept(listener: &TcpListener, broker: SocketAddr) {
    for client in listener.incoming() {
        match client {
            Ok(client) => {
                if let Err(err) = relay(client, broker) {
                    tracing::debug!("weir dev: a connection to the broker port failed: {err}");
                }
            }
            Err(err) => tracing::debug!("weir dev: accepting on the broker port: {err}"),
        }
    }
}

/// Copies bytes both ways between `client` and the broker until either side closes.
fn relay(client: TcpStream, broker: SocketAddr) -> io::Result<()> {
    let upstream = TcpStream::connect_timeout(&broker, Duration::from_secs(5))?;
    for stream in [&client, &upstream] {
        stream.set_nodelay(true)?;
    }
    let pairs = [(client.try_clone()?, upstream.try_clone()?), (upstream, client)];
    for (mut from, mut to) in pairs {
        std::thread::Builder::new()
            .name("weir-dev-relay".into())
            .spawn(move || {
                let _ = io::copy(&mut from, &mut to);
                let _ = to.shutdown(Shutdown::Write);
                let _ = from.shutdown(Shutdown::Read);
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_go_both_ways_through_the_fixed_port() -> anyhow::Result<()> {
        let echo = TcpListener::bind("127.0.0.1:0")?;
        let target = echo.local_addr()?;
        std::thread::spawn(move || {
            if let Ok((mut conn, _)) = echo.accept() {
                let mut buf = [0u8; 5];
                if conn.read_exact(&mut buf).is_ok() {
                    let _ = conn.write_all(&buf.map(|b| b.to_ascii_uppercase()));
                }
            }
        });
        let port = FixedPort::open(0, target)?;
        let mut client = TcpStream::connect(port.bootstrap())?;
        client.write_all(b"hello")?;
        let mut answer = [0u8; 5];
        client.read_exact(&mut answer)?;
        assert_eq!(&answer, b"HELLO");
        Ok(())
    }

    #[test]
    fn a_taken_port_says_so() -> anyhow::Result<()> {
        let taken = TcpListener::bind("127.0.0.1:0")?;
        let port = taken.local_addr()?.port();
        let target = taken.local_addr()?;
        match FixedPort::open(port, target) {
            Err(PortError::InUse(p)) => assert_eq!(p, port),
            Err(other) => panic!("not InUse: {other}"),
            Ok(_) => panic!("a taken port was bound"),
        }
        assert_eq!(first_broker("127.0.0.1:5,127.0.0.1:6")?, "127.0.0.1:5".parse()?);
        Ok(())
    }
}
