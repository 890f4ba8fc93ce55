//! `make bench`: webhook deliveries per second to a receiver on 127.0.0.1.
//!
//! webhook_bench DATABASE_URL EVENTS
//!   starts an HTTP receiver (keep-alive, answers 204 at once), points the webhook `bench` at it,
//!   inserts EVENTS rows into public.wh_items in one transaction and counts deliveries until
//!   the last arrives; then POSTs the same number of bodies of the same size to the receiver
//!   itself over 8 connections (the ceiling the receiver and HTTP set on this machine).
//!   Prints: deliveries/s, direct POSTs/s.
//!
//! The sidecar runs beside it with --webhook-allow-hosts 127.0.0.1 (scripts/bench.sh).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: webhook_bench DATABASE_URL EVENTS");
        std::process::exit(2);
    }
    let events: u64 = args[2].parse().expect("EVENTS");
    let (db, connection) = tokio_postgres::connect(&args[1], tokio_postgres::NoTls).await.expect("database");
    tokio::spawn(connection);

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let (r, b) = (received.clone(), bytes.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(answer(stream, r.clone(), b.clone()));
        }
    });

    db.batch_execute("SELECT bknd.delete_webhook(name) FROM jsonb_to_recordset(bknd.list_webhooks()) AS w(name text)").await.unwrap();
    db.execute("SELECT bknd.create_webhook('bench', $1, '{wh_items.insert}')", &[&format!("http://127.0.0.1:{port}/hook")])
        .await
        .expect("create_webhook");
    let started = Instant::now();
    db.execute("INSERT INTO public.wh_items (n) SELECT g FROM generate_series(1, $1::bigint) g", &[&(events as i64)]).await.unwrap();
    let deadline = started + Duration::from_secs(600);
    while received.load(Ordering::Relaxed) < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = received.load(Ordering::Relaxed);
    let per_second = delivered as f64 / started.elapsed().as_secs_f64();
    let body_size = (bytes.load(Ordering::Relaxed) / delivered.max(1)) as usize;
    db.batch_execute("SELECT bknd.delete_webhook('bench')").await.unwrap();

    // the same receiver, posted to directly with bodies of the same size
    received.store(0, Ordering::Relaxed);
    let body = Arc::new(format!("{{\"x\": \"{}\"}}", "y".repeat(body_size.saturating_sub(9))));
    let started = Instant::now();
    let mut posters = vec![];
    for i in 0..8u64 {
        let (body, count) = (body.clone(), events / 8 + u64::from(i < events % 8));
        posters.push(tokio::spawn(async move { post(port, &body, count).await }));
    }
    for p in posters {
        p.await.unwrap();
    }
    let direct = events as f64 / started.elapsed().as_secs_f64();
    println!("{per_second:.0} {direct:.0}");
}

/// Read requests off one connection and answer each with 204.
async fn answer(stream: TcpStream, received: Arc<AtomicU64>, bytes: Arc<AtomicU64>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    loop {
        let mut length = 0usize;
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        bytes.fetch_add(length as u64, Ordering::Relaxed);
        received.fetch_add(1, Ordering::Relaxed);
        if write.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.is_err() {
            return;
        }
    }
}

/// POST `body` `count` times over one keep-alive connection, each after the last answer.
async fn post(port: u16, body: &str, count: u64) {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let request =
        format!("POST /hook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    let mut line = String::new();
    for _ in 0..count {
        write.write_all(request.as_bytes()).await.unwrap();
        // the status line and the empty line that ends a 204
        loop {
            line.clear();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
        }
    }
}
