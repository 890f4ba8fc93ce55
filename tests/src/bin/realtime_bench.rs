//! `make bench`: realtime under an owner policy, each subscriber a different user (so each
//! change is for one of them, and every batch is checked for every subscriber's claims).
//!
//! realtime_bench BASE_URL DATABASE_URL SUBSCRIBERS latency CHANGES
//!   one change at a time, each owned by the next subscriber: prints the commit-to-client
//!   latency (from the INSERT's commit returning to the change arriving) p50 and p99 in ms
//! realtime_bench BASE_URL DATABASE_URL SUBSCRIBERS throughput SECONDS
//!   two writers insert as fast as they can, round robin over the owners: prints inserts/s and
//!   changes delivered/s (counted until two seconds after the writers stop)
//!
//! The table is public.rt_items (id bigint, owner_id uuid, n bigint) with owner policies and
//! realtime enabled (scripts/bench.sh makes it). Tokens are signed by the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: realtime_bench BASE_URL DATABASE_URL SUBSCRIBERS latency CHANGES|throughput SECONDS");
        std::process::exit(2);
    }
    let (base, database_url, subscribers, mode, amount) =
        (&args[1], &args[2], args[3].parse::<usize>().unwrap(), args[4].as_str(), args[5].parse::<u64>().unwrap());
    let (db, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await.expect("database");
    tokio::spawn(connection);
    let users = db
        .query(
            "SELECT u::text, bknd.jwt_sign(jsonb_build_object('sub', u, 'role', 'authenticated'), 3600)
             FROM (SELECT gen_random_uuid() AS u FROM generate_series(1, $1::int)) s",
            // at least one owner, when no one subscribes (the rate without realtime)
            &[&(subscribers.max(1) as i32)],
        )
        .await
        .expect("tokens");
    let users: Vec<(String, String)> = users.iter().map(|r| (r.get(0), r.get(1))).collect();

    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let delivered = Arc::new(AtomicU64::new(0));
    let url = format!("{}/realtime/v1/websocket?vsn=2.0.0&apikey={}", base.replace("http", "ws"), users[0].1);
    let mut joins = vec![];
    for (i, (_, token)) in users.iter().enumerate().take(subscribers) {
        let (url, token, arrivals, delivered) = (url.clone(), token.clone(), arrivals.clone(), delivered.clone());
        joins.push(tokio::spawn(subscribe(url, i, token, arrivals, delivered)));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for j in joins {
        j.await.expect("subscriber").await.expect("joined");
    }

    let insert = "INSERT INTO public.rt_items (owner_id, n) VALUES ($1::text::uuid, $2::bigint)";
    match mode {
        "latency" => {
            let mut latencies = vec![];
            for k in 0..amount as i64 {
                let owner = &users[k as usize % users.len()].0;
                db.execute(insert, &[owner, &k]).await.expect("insert");
                let committed = Instant::now();
                let deadline = committed + Duration::from_secs(10);
                loop {
                    if let Some(at) = arrivals.lock().unwrap().get(&k) {
                        latencies.push(at.saturating_duration_since(committed).as_secs_f64() * 1000.0);
                        break;
                    }
                    if Instant::now() > deadline {
                        eprintln!("realtime_bench: change {k} did not arrive within 10 s");
                        std::process::exit(1);
                    }
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            latencies.sort_by(|a, b| a.total_cmp(b));
            let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
            println!("{:.2} {:.2}", at(0.5), at(0.99));
        }
        "throughput" => {
            let stop = Instant::now() + Duration::from_secs(amount);
            let inserted = Arc::new(AtomicU64::new(0));
            let mut writers = vec![];
            for w in 0..2i64 {
                let (database_url, users, inserted) = (database_url.clone(), users.clone(), inserted.clone());
                writers.push(tokio::spawn(async move {
                    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await.expect("database");
                    tokio::spawn(connection);
                    let statement = db.prepare(insert).await.expect("prepare");
                    let mut k = w;
                    while Instant::now() < stop {
                        db.execute(&statement, &[&users[k as usize % users.len()].0, &k]).await.expect("insert");
                        inserted.fetch_add(1, Ordering::Relaxed);
                        k += 2;
                    }
                }));
            }
            let before = delivered.load(Ordering::Relaxed);
            for w in writers {
                w.await.expect("writer");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let got = delivered.load(Ordering::Relaxed) - before;
            let n = inserted.load(Ordering::Relaxed);
            println!("{:.0} {:.0} {}", n as f64 / amount as f64, got as f64 / amount as f64, n - got.min(n));
        }
        _ => {
            eprintln!("realtime_bench: mode is latency or throughput");
            std::process::exit(2);
        }
    }
    std::process::exit(0);
}

/// One subscriber: join `realtime:b<i>` for rt_items' inserts as `token`; the returned task
/// resolves once the join is answered, and the connection keeps recording arrivals.
async fn subscribe(url: String, i: usize, token: String, arrivals: Arrivals, delivered: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("websocket");
    let (mut sink, mut stream) = ws.split();
    let topic = format!("realtime:b{i}");
    let join = json!(["1", "1", topic, "phx_join", {
        "config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "rt_items"}]},
        "access_token": token,
    }]);
    sink.send(Message::Text(join.to_string().into())).await.expect("join");
    let (joined, is_joined) = tokio::sync::oneshot::channel::<()>();
    let mut joined = Some(joined);
    let task = tokio::spawn(async move {
        let mut heartbeat = tokio::time::interval(Duration::from_secs(20));
        loop {
            tokio::select! {
                _ = heartbeat.tick() => {
                    let _ = sink.send(Message::Text(json!([null, "hb", "phoenix", "heartbeat", {}]).to_string().into())).await;
                }
                message = stream.next() => {
                    let Some(Ok(Message::Text(text))) = message else {
                        if message.is_none() { return; }
                        continue;
                    };
                    let at = Instant::now();
                    let Ok(Value::Array(frame)) = serde_json::from_str::<Value>(&text) else { continue };
                    match frame.get(3).and_then(Value::as_str) {
                        Some("phx_reply") if frame[1] == "1" => {
                            if frame[4]["status"] != "ok" {
                                eprintln!("realtime_bench: join refused: {}", frame[4]);
                                std::process::exit(1);
                            }
                            if let Some(j) = joined.take() {
                                let _ = j.send(());
                            }
                        }
                        Some("postgres_changes") => {
                            delivered.fetch_add(1, Ordering::Relaxed);
                            if let Some(n) = frame[4]["data"]["record"]["n"].as_i64() {
                                arrivals.lock().unwrap().insert(n, at);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        let _ = is_joined.await;
        drop(task);
    })
}
