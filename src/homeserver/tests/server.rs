//! A tiny scripted HTTP/1.1 server on 127.0.0.1 for the homeserver client's tests.
//!
//! It parses what the client really sends (request line, headers, body), records every
//! request, answers from a script per request, and counts how many requests it is serving at
//! once. Nothing of reqwest is mocked. The integration tests include this file too (by path, as
//! `tests/it/common/homeserver.rs`), so that there is one such server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Path and query, as on the request line.
    pub(crate) target: String,
    /// Header names are lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Request {
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub(crate) fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the request body is JSON")
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// Answers after `delay`.
    Answer {
        status: u16,
        body: String,
        delay: Duration,
    },
    /// Never answers (keeps the connection open).
    Hang,
    /// Sends the head and the start of the body, then stalls.
    Stall,
    /// Answers `302 Found` pointing at this location.
    Redirect(String),
}

impl Reply {
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::text(status, &body.to_string())
    }

    pub(crate) fn text(status: u16, body: &str) -> Self {
        Self::Answer {
            status,
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn matrix_error(status: u16, errcode: &str, error: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "errcode": errcode, "error": error }),
        )
    }

    pub(crate) fn delayed(self, by: Duration) -> Self {
        match self {
            Self::Answer { status, body, .. } => Self::Answer {
                status,
                body,
                delay: by,
            },
            other @ (Self::Hang | Self::Stall | Self::Redirect(_)) => other,
        }
    }
}

type Script = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

#[derive(Default)]
struct Record {
    requests: Mutex<Vec<Request>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// The running server; it stops (with every connection) when dropped.
pub(crate) struct TestServer {
    port: u16,
    record: Arc<Record>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let record = Arc::new(Record::default());
        let script: Script = Arc::new(script);
        let task = tokio::spawn(accept(listener, script, Arc::clone(&record)));
        Self { port, record, task }
    }

    /// Returns `http://127.0.0.1:<port>` followed by `path` (`/`, `/prefix/`, …).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.record.requests.lock().expect("lock").clone()
    }

    pub(crate) fn only_request(&self) -> Request {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:#?}"
        );
        requests.into_iter().next().expect("one request")
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.record.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, script: Script, record: Arc<Record>) {
    // Connections live in the set, so aborting this task closes them all.
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        connections.spawn(serve(stream, Arc::clone(&script), Arc::clone(&record)));
    }
}

async fn serve(stream: TcpStream, script: Script, record: Arc<Record>) {
    let mut stream = BufReader::new(stream);
    // Keep-alive: answer requests on this connection until the client closes it.
    while let Some(request) = read_request(&mut stream).await {
        record.requests.lock().expect("lock").push(request.clone());
        let now = record.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        record.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (status, body, delay) = match script(&request) {
            Reply::Answer {
                status,
                body,
                delay,
            } => (status, body, delay),
            Reply::Hang => std::future::pending().await,
            Reply::Stall => {
                let head = "HTTP/1.1 200 Scripted\r\ncontent-length: 100\r\n\r\n{\"display";
                // Whether the write succeeds or not, this connection never finishes.
                let _ = stream.get_mut().write_all(head.as_bytes()).await;
                std::future::pending().await
            }
            Reply::Redirect(location) => {
                record.in_flight.fetch_sub(1, Ordering::SeqCst);
                let head = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
                );
                if stream.get_mut().write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        tokio::time::sleep(delay).await;
        record.in_flight.fetch_sub(1, Ordering::SeqCst);
        if write_answer(stream.get_mut(), status, &body).await.is_err() {
            return;
        }
    }
}

async fn write_answer(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await
}

async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| {
            value.parse().expect("numeric content-length")
        });
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    let body = String::from_utf8(body).expect("UTF-8 body");
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}
