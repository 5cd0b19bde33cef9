//! The baseline of issue 10's "submit with no rate limit" row: a minimal hyper server
//! answering a fixed small JSON, and a minimal hyper client sending POSTs over keep-alive
//! connections with a fixed concurrency, on loopback.
//!
//! `cargo bench --bench hyper_pair -- server` prints `listening on http://ADDR` and serves
//! until killed; `cargo bench --bench hyper_pair -- client URL REQUESTS CONCURRENCY` sends
//! REQUESTS POSTs of a small JSON body (CONCURRENCY connections, one request in flight on
//! each) and prints `requests N seconds S per_second R`. Client and server run as separate
//! processes, as muster and the sandbox do; `benches/submit.sh` runs both.

// Tools of our own, run by hand or by CI: std's print macros are fine here.
#![allow(clippy::disallowed_macros)]

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

type Error = Box<dyn std::error::Error + Send + Sync>;

const REPLY: &[u8] =
    br#"{"id":1,"name":"Lena Huber","email":"lena.huber@example.com","readonly":false}"#;
const BODY: &[u8] =
    br#"{"name":"Lena Huber","email":"lena.huber@example.com","password":"Bench-2026-xx","phone":""}"#;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["server"] => runtime.block_on(server()),
        ["client", url, n, c] => runtime.block_on(client(url, n.parse()?, c.parse()?)),
        _ => Err("usage: hyper_pair server | hyper_pair client URL REQUESTS CONCURRENCY".into()),
    }
}

async fn server() -> Result<(), Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut out = std::io::stdout();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                // Read the body, as a platform would, then answer the fixed JSON.
                let _ = req.into_body().collect().await;
                let reply = Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Full::new(REPLY));
                Ok::<_, Infallible>(reply.unwrap_or_default())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn client(url: &str, requests: u64, concurrency: u64) -> Result<(), Error> {
    let uri: hyper::Uri = url.parse()?;
    let authority = uri.authority().ok_or("the URL has no host:port")?.clone();
    let left = Arc::new(AtomicU64::new(requests));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (left, uri, authority) = (left.clone(), uri.clone(), authority.clone());
        workers.push(tokio::spawn(async move {
            let stream = TcpStream::connect(authority.as_str()).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut sent = 0u64;
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                sender.ready().await?;
                let req = Request::post(uri.clone())
                    .header("host", authority.as_str())
                    .header("content-type", "application/json")
                    .body(Full::new(BODY))?;
                let resp = sender.send_request(req).await?;
                if !resp.status().is_success() {
                    return Err::<u64, Error>(format!("HTTP {}", resp.status()).into());
                }
                resp.into_body().collect().await?;
                sent += 1;
            }
            Ok(sent)
        }));
    }
    let mut sent = 0;
    for w in workers {
        sent += w.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "requests {sent} seconds {secs:.3} per_second {:.0}",
        sent as f64 / secs
    );
    Ok(())
}
