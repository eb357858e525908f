//! Loopback services that produce each verdict without root: the demo's targets and the test
//! and benchmark fixtures (`telltale lab`). See shared LAB.md for the kernel facts behind them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Banner of `banner` services.
pub const BANNER: &[u8] = b"SSH-2.0-telltale-lab\r\n";
/// Message of `closed-msg` services.
pub const DENY_MSG: &[u8] = b"Host is not allowed to connect\r\n";
/// Greeting of `smtp-reject` services: Postfix's words when `smtpd_client_restrictions` reject.
pub const SMTP_REJECT: &[u8] =
    b"554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied\r\n";
/// How long `slow-close` services stay silent before closing.
pub const SLOW_CLOSE: Duration = Duration::from_secs(3);
/// Banner of `banner-reset` services.
pub const RESET_BANNER: &[u8] = b"BANNER-THEN-RST\r\n";

/// Bytes per write of `stream` services: large, so the service outpaces a reader.
const STREAM_CHUNK: usize = 64 * 1024;
/// `SO_SNDBUF` of `stream` connections (the kernel doubles it).
const STREAM_SNDBUF: usize = 256 * 1024;

/// How a service treats a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Accept and hold, silent → `open`.
    Open,
    /// Accept, send [`BANNER`], hold → `open` with a banner.
    Banner,
    /// Accept, close at once → `closed-by-peer`.
    Closed,
    /// Accept, send [`DENY_MSG`], close → `closed-by-peer` with a message.
    ClosedMsg,
    /// Accept, reset → `reset-by-peer`.
    Reset,
    /// Accept, send [`RESET_BANNER`], reset → `reset-by-peer` with a banner.
    BannerReset,
    /// Bound, not listening → `refused` (the bound socket is kept, so no self-connect can steal it).
    Refused,
    /// `listen(0)` with its one queue slot filled → SYNs dropped → `filtered`.
    Filtered,
    /// Accept and send bytes forever (chargen-like) → `open`, banner bounded.
    Stream,
    /// Alternate per connection: hold (→ `open`), then close (→ `closed-by-peer`): a flaky service.
    Alternate,
    /// Greet with [`SMTP_REJECT`] and hold → `rejected` (as `smtp`).
    SmtpReject,
    /// Say nothing, close after [`SLOW_CLOSE`] → `closed-by-peer` within the greeting window,
    /// `open` with a 1 s linger alone.
    SlowClose,
}

impl Behaviour {
    /// The `telltale lab` flag / output name.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Open => "open",
            Behaviour::Banner => "banner",
            Behaviour::Closed => "closed",
            Behaviour::ClosedMsg => "closed-msg",
            Behaviour::Reset => "reset",
            Behaviour::BannerReset => "banner-reset",
            Behaviour::Refused => "refused",
            Behaviour::Filtered => "filtered",
            Behaviour::Stream => "stream",
            Behaviour::Alternate => "alternate",
            Behaviour::SmtpReject => "smtp-reject",
            Behaviour::SlowClose => "slow-close",
        }
    }
}

/// Running services; dropping it stops them and closes every socket.
pub struct Lab {
    /// Each service and where it listens.
    pub services: Vec<(Behaviour, SocketAddr)>,
    tasks: Vec<JoinHandle<()>>,
    _held: Vec<Socket>,
    _fillers: Vec<std::net::TcpStream>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn bound(addr: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    Ok(s)
}

/// Start services on `ip`: one per (behaviour, port); port 0 picks a free port. Must be called
/// inside a tokio runtime.
pub fn start(ip: IpAddr, plan: &[(Behaviour, u16)]) -> io::Result<Lab> {
    let mut lab = Lab {
        services: Vec::new(),
        tasks: Vec::new(),
        _held: Vec::new(),
        _fillers: Vec::new(),
    };
    for &(b, port) in plan {
        let want = SocketAddr::new(ip, port);
        let s = bound(want)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {want}: {e}")))?;
        let addr = s.local_addr()?.as_socket().unwrap_or(want);
        match b {
            Behaviour::Refused => lab._held.push(s),
            Behaviour::Filtered => {
                s.listen(0)?;
                lab._fillers.push(std::net::TcpStream::connect_timeout(
                    &addr,
                    Duration::from_secs(2),
                )?);
                lab._held.push(s);
            }
            _ => {
                s.listen(1024)?;
                s.set_nonblocking(true)?;
                let listener = TcpListener::from_std(std::net::TcpListener::from(s))?;
                lab.tasks.push(tokio::spawn(accept_loop(listener, b)));
            }
        }
        lab.services.push((b, addr));
    }
    Ok(lab)
}

async fn accept_loop(listener: TcpListener, b: Behaviour) {
    let mut n: u64 = 0;
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                n += 1;
                let b = match b {
                    Behaviour::Alternate if n % 2 == 1 => Behaviour::Open,
                    Behaviour::Alternate => Behaviour::Closed,
                    b => b,
                };
                tokio::spawn(serve(s, b));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn hold(mut s: TcpStream) {
    let mut buf = [0u8; 512];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

async fn serve(mut s: TcpStream, b: Behaviour) {
    match b {
        Behaviour::Open => hold(s).await,
        Behaviour::Banner => {
            if s.write_all(BANNER).await.is_ok() {
                hold(s).await;
            }
        }
        Behaviour::Closed => drop(s),
        Behaviour::ClosedMsg => {
            let _ = s.write_all(DENY_MSG).await;
            let _ = s.shutdown().await;
        }
        Behaviour::Reset => {
            let _ = s.set_zero_linger();
        }
        Behaviour::BannerReset => {
            let _ = s.write_all(RESET_BANNER).await;
            let _ = s.set_zero_linger();
        }
        Behaviour::Stream => {
            // Large writes from a bounded send buffer: the service always has bytes ready and
            // outpaces a reader, but a scanner that stops reading pins ~512 KiB of kernel memory
            // here per connection, not the ~4 MiB send-buffer autotuning grows to (1,000
            // streamers: 4 GB).
            let _ = socket2::SockRef::from(&s).set_send_buffer_size(STREAM_SNDBUF);
            let chunk = vec![b'x'; STREAM_CHUNK];
            while s.write_all(&chunk).await.is_ok() {}
        }
        Behaviour::SmtpReject => {
            if s.write_all(SMTP_REJECT).await.is_ok() {
                hold(s).await;
            }
        }
        Behaviour::SlowClose => {
            tokio::time::sleep(SLOW_CLOSE).await;
            let _ = s.shutdown().await;
        }
        Behaviour::Refused | Behaviour::Filtered | Behaviour::Alternate => {}
    }
}
