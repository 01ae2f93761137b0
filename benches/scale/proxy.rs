//! A TCP proxy in front of PostgreSQL that counts the statements its clients send.
//!
//! It reads the frontend half of the wire protocol just enough to count `Query` (simple
//! protocol) and `Execute` (extended protocol) messages: one per statement masctl runs, however
//! the driver sends it. Everything else is forwarded byte for byte. TLS is declined (it answers
//! `N` to an `SSLRequest`), which every client falls back from under `sslmode=prefer`.
//!
//! Timed runs never go through the proxy; it only counts, in a run of its own.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The request codes a client may send before its startup message.
const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;

/// A running proxy and its counter.
pub(crate) struct CountingProxy {
    /// Where clients connect.
    pub(crate) addr: SocketAddr,
    statements: Arc<AtomicUsize>,
}

impl CountingProxy {
    /// Starts a proxy to `upstream` on its own thread and returns once it listens.
    pub(crate) fn start(upstream: SocketAddr) -> io::Result<Self> {
        let statements = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let counter = Arc::clone(&statements);
        std::thread::spawn(move || {
            runtime.block_on(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let counter = Arc::clone(&counter);
                    tokio::spawn(async move {
                        // A connection that fails mid-way fails the client too, which reports it.
                        let _ = relay(client, upstream, counter).await;
                    });
                }
            });
        });
        Ok(Self { addr, statements })
    }

    /// Returns the statements counted since the last call, and starts counting afresh.
    pub(crate) fn take(&self) -> usize {
        self.statements.swap(0, Ordering::SeqCst)
    }
}

/// Relays one client connection to the server, counting its statements.
async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    statements: Arc<AtomicUsize>,
) -> io::Result<()> {
    let startup = loop {
        let message = read_untyped(&mut client).await?;
        let code = message
            .get(4..8)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, i32::from_be_bytes);
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            client.write_all(b"N").await?;
            continue;
        }
        break message;
    };
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&startup).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let downstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    loop {
        let mut header = [0_u8; 5];
        if client_read.read_exact(&mut header).await.is_err() {
            break;
        }
        if matches!(header[0], b'Q' | b'E') {
            statements.fetch_add(1, Ordering::SeqCst);
        }
        let length = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let mut body = vec![0_u8; usize::try_from(length).unwrap_or(4).saturating_sub(4)];
        client_read.read_exact(&mut body).await?;
        server_write.write_all(&header).await?;
        server_write.write_all(&body).await?;
    }
    let _ = server_write.shutdown().await;
    let _ = downstream.await;
    Ok(())
}

/// Reads a message without a type byte (the startup phase): its length, then the rest.
async fn read_untyped(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut length = [0_u8; 4];
    stream.read_exact(&mut length).await?;
    let total = usize::try_from(i32::from_be_bytes(length)).unwrap_or(0);
    if !(8..=10_000).contains(&total) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a PostgreSQL startup message",
        ));
    }
    let mut message = vec![0_u8; total];
    message[..4].copy_from_slice(&length);
    stream.read_exact(&mut message[4..]).await?;
    Ok(message)
}
