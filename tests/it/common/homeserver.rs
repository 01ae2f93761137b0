//! A tiny scripted HTTP/1.1 homeserver on 127.0.0.1 for tests that run the masctl binary.
//!
//! It parses what the client really sends (request line, headers, body), records every
//! request and answers from a script. Adapted from the homeserver client's own test server.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The shared secret tests put in MAS's `matrix` section.
pub(crate) const SECRET: &str = "test-shared-secret";

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

    /// Asserts the request carries the shared secret as a bearer token.
    pub(crate) fn assert_authorized(&self) {
        assert_eq!(
            self.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str()),
            "{self:#?}"
        );
    }
}

/// An answer: status and JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
        }
    }

    pub(crate) fn ok() -> Self {
        Self::json(200, &serde_json::json!({}))
    }

    pub(crate) fn matrix_error(status: u16, errcode: &str, error: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "errcode": errcode, "error": error }),
        )
    }
}

type Script = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// The running server; it stops (with every connection) when dropped.
pub(crate) struct TestHomeserver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
}

impl TestHomeserver {
    pub(crate) async fn start(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(listener, Arc::new(script), Arc::clone(&requests)));
        Self {
            port,
            requests,
            task,
        }
    }

    /// Returns `http://127.0.0.1:<port>/`, the `matrix.endpoint` to configure.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for TestHomeserver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, script: Script, requests: Arc<Mutex<Vec<Request>>>) {
    // Connections live in the set, so aborting this task closes them all.
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        connections.spawn(serve(stream, Arc::clone(&script), Arc::clone(&requests)));
    }
}

async fn serve(stream: TcpStream, script: Script, requests: Arc<Mutex<Vec<Request>>>) {
    let mut stream = BufReader::new(stream);
    // Keep-alive: answer requests on this connection until the client closes it.
    while let Some(request) = read_request(&mut stream).await {
        requests.lock().expect("lock").push(request.clone());
        let Reply { status, body } = script(&request);
        let head = format!(
            "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let stream = stream.get_mut();
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
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
