//! A child process for the crash test: ingests batches from several threads into the store at
//! the given directory and prints `ACK <thread> <batch>` after each acknowledged batch, until it
//! is killed.

use std::io::Write;

use baton::NewEvent;

/// Events per batch; the crash test checks each batch is whole or absent.
const BATCH: usize = 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: baton-ingest-writer <dir> <threads>");
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(4);
    let storage = baton_tests::child_store(&dir);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let storage = storage.clone();
            scope.spawn(move || {
                for batch in 0.. {
                    let events: Vec<NewEvent> = (0..BATCH)
                        .map(|i| NewEvent {
                            id: format!("t{thread}-b{batch}-e{i}"),
                            user_id: Some(format!("u{thread}-{}", i % 7)),
                            anonymous_id: None,
                            name: "page".into(),
                            timestamp: 1_750_000_000_000 + (batch * BATCH + i) as i64,
                            properties: serde_json::Map::new(),
                            campaign: None,
                        })
                        .collect();
                    storage.ingest(&events, 1_750_000_000_000).expect("ingest");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {thread} {batch}").expect("stdout");
                    out.flush().expect("stdout");
                }
            });
        }
    });
}
