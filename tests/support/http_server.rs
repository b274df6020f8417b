//! A small HTTP/1.1 server for the webhook tests and benchmark: on 127.0.0.1 at a free port,
//! plain or TLS, one thread per connection, keep-alive, replies taken in order from a script
//! (then a fixed reply), and every request recorded with the time its head arrived.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    Answer { status: u16, headers: Vec<(String, String)>, body: String },
    /// Never answer (the connection stays open until the client gives up).
    Silence,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Answer { status, headers: Vec::new(), body: String::new() }
    }

    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Answer { status, mut headers, body } => {
                headers.push((name.into(), value.into()));
                Reply::Answer { status, headers, body }
            }
            Reply::Silence => Reply::Silence,
        }
    }

    pub fn with_body(self, text: &str) -> Reply {
        match self {
            Reply::Answer { status, headers, .. } => Reply::Answer { status, headers, body: text.into() },
            Reply::Silence => Reply::Silence,
        }
    }
}

struct Inner {
    script: Mutex<VecDeque<Reply>>,
    otherwise: Reply,
    /// False: count requests, keep nothing (benchmarks).
    keep: bool,
    requests: Mutex<Vec<Request>>,
    count: Mutex<usize>,
    arrived: Condvar,
}

pub struct Server {
    pub addr: SocketAddr,
    scheme: &'static str,
    inner: Arc<Inner>,
}

impl Server {
    /// Plain HTTP: answers with `script` in order, then `otherwise` for ever.
    pub fn start(script: Vec<Reply>, otherwise: Reply) -> Server {
        Server::spawn(script, otherwise, true, None)
    }

    /// As `start`, but over TLS with `config`.
    pub fn start_tls(config: Arc<rustls::ServerConfig>, script: Vec<Reply>, otherwise: Reply) -> Server {
        Server::spawn(script, otherwise, true, Some(config))
    }

    /// Answers 200 at once and keeps only the number of requests.
    pub fn start_counting() -> Server {
        Server::spawn(Vec::new(), Reply::status(200), false, None)
    }

    fn spawn(script: Vec<Reply>, otherwise: Reply, keep: bool, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            script: Mutex::new(script.into()),
            otherwise,
            keep,
            requests: Mutex::new(Vec::new()),
            count: Mutex::new(0),
            arrived: Condvar::new(),
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let accepting = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let inner = accepting.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(stream, &inner),
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).expect("a TLS connection");
                        serve(rustls::StreamOwned::new(connection, stream), &inner);
                    }
                });
            }
        });
        Server { addr, scheme, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        *self.inner.count.lock().unwrap()
    }

    /// Waits until `n` requests arrived (panics after `limit`), and returns all of them.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Request> {
        let deadline = Instant::now() + limit;
        let mut count = self.inner.count.lock().unwrap();
        while *count < n {
            let now = Instant::now();
            assert!(now < deadline, "{} of {n} requests arrived", *count);
            count = self.inner.arrived.wait_timeout(count, deadline - now).unwrap().0;
        }
        drop(count);
        self.requests()
    }
}

/// Serves requests on one connection until the client closes it.
fn serve<S: Read + Write>(stream: S, inner: &Inner) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let reply = inner.script.lock().unwrap().pop_front().unwrap_or_else(|| inner.otherwise.clone());
        if inner.keep {
            inner.requests.lock().unwrap().push(request);
        }
        *inner.count.lock().unwrap() += 1;
        inner.arrived.notify_all();
        let Reply::Answer { status, headers, body } = reply else {
            // Wait for the client to give up (or for another request it will never send).
            continue;
        };
        let mut head = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = reader.get_mut();
        let written = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
        if written.and_then(|()| stream.flush()).is_err() {
            return;
        }
    }
}

/// Reads one request (a `Content-Length` body only); `None` at the end of the connection.
fn read_request<S: Read>(reader: &mut BufReader<S>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let at = Instant::now();
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_string(), words.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length = headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
    assert!(headers.iter().all(|(n, _)| n != "transfer-encoding"), "only Content-Length bodies are expected");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { at, method, path, headers, body })
}

/// A self-signed certificate for 127.0.0.1 as PEM, and a TLS server config that presents it.
pub fn self_signed_tls() -> (String, Arc<rustls::ServerConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("a certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a server config");
    (certified.cert.pem(), Arc::new(config))
}
