//! Bulk data in and out, with the real `baton` binary on a real data directory: a CSV import of
//! N profiles (default 1,000,000), then full exports of the profiles and of the events through a
//! running server while it takes a steady ingest load.
//!
//! `cargo build --release -p baton && cargo bench -p baton-tests --bench bulk -- [PROFILES]`
//!
//! Prints rows per second and the peak resident memory of the process doing the work (sampled
//! every 20 ms from /proc), and the ingest rate the server kept up during the export.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton_tests::baton_bin;
use baton_tests::figures::SplitMix;

/// Runs `child` to its end, sampling its resident memory; returns (elapsed, peak MiB, output).
fn measured(mut child: Child) -> (Duration, f64, String) {
    let started = Instant::now();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let rss = text
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            peak_kib = peak_kib.max(rss);
        }
        if child.try_wait().expect("child").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    assert!(child.wait().expect("child").success(), "the command failed");
    (elapsed, peak_kib as f64 / 1024.0, reader.join().expect("reader"))
}

fn baton(data: &std::path::Path) -> Command {
    let mut command = Command::new(baton_bin());
    command.arg("--data").arg(data).stdout(Stdio::piped()).stderr(Stdio::null());
    command
}

fn main() {
    let profiles: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");

    // A CRM export: ids, email, plan, lifetime value, consent, time zone.
    let csv = dir.path().join("crm.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
        writeln!(out, "user_id,email,plan,ltv,consent:email:marketing,timezone").expect("write");
        let mut rng = SplitMix(7);
        let plans = ["free", "pro", "team"];
        let zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo"];
        for i in 0..profiles {
            let r = rng.next();
            let consent = if r % 3 == 0 { "denied" } else { "granted" };
            writeln!(
                out,
                "user-{i},user{i}@example.com,{},{:.2},{consent},{}",
                plans[(r % 3) as usize],
                (r % 100_000) as f64 / 100.0,
                zones[((r >> 8) % 3) as usize]
            )
            .expect("write");
        }
    }
    let csv_mib = std::fs::metadata(&csv).expect("csv").len() as f64 / (1 << 20) as f64;

    let import = baton(&data)
        .args(["import", "profiles"])
        .arg(&csv)
        .arg("--batch")
        .arg("2000")
        .spawn()
        .expect("import");
    let (elapsed, peak, output) = measured(import);
    assert!(output.contains(&format!("{profiles} stored")), "{output}");
    println!(
        "import profiles (CSV, {csv_mib:.0} MiB): {profiles} rows in {:.1} s = {:.0} profiles/s, peak RSS {peak:.0} MiB",
        elapsed.as_secs_f64(),
        profiles as f64 / elapsed.as_secs_f64()
    );

    // A server with a steady ingest load, exporting meanwhile.
    let token = |role: &str| {
        let out =
            baton(&data).args(["token", "create", "--name", role, "--role", role]).output().expect("token");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (admin, connector) = (token("admin"), token("connector"));
    let mut server = baton(&data).args(["serve", "--addr", "127.0.0.1:0"]).spawn().expect("serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line).expect("address");
    let url = line.trim().strip_prefix("baton listening on ").expect("address").to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let ingested = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, ingested, url, connector) =
            (stop.clone(), ingested.clone(), url.clone(), connector.clone());
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let client = baton_tests::http();
                let mut batch_number = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut body = String::new();
                    for i in 0..500 {
                        let user = (batch_number * 500 + i) % profiles.max(1) as u64;
                        body.push_str(&format!(
                            "{{\"id\":\"e-{batch_number}-{i}\",\"user_id\":\"user-{user}\",\"name\":\"page\",\"timestamp\":1750000000000}}\n"
                        ));
                    }
                    let sent = client
                        .post(format!("{url}/v1/events"))
                        .bearer_auth(&connector)
                        .header("content-type", "application/x-ndjson")
                        .body(body)
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        ingested.fetch_add(500, Ordering::Relaxed);
                    }
                    batch_number += 1;
                }
            });
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    for what in ["profiles", "events"] {
        let out = dir.path().join(format!("{what}.csv"));
        let before = ingested.load(Ordering::Relaxed);
        let export = Command::new(baton_bin())
            .args(["--server", &url, "--token", &admin, "export", what, "--format", "csv", "--out"])
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("export");
        let server_status = format!("/proc/{}/status", server.id());
        let sampler_stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = sampler_stop.clone();
            std::thread::spawn(move || {
                let mut peak = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(text) = std::fs::read_to_string(&server_status) {
                        let rss: u64 = text
                            .lines()
                            .find_map(|l| l.strip_prefix("VmRSS:"))
                            .and_then(|v| v.split_whitespace().next()?.parse().ok())
                            .unwrap_or(0);
                        peak = peak.max(rss);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                peak
            })
        };
        let (elapsed, _, _) = measured(export);
        sampler_stop.store(true, Ordering::Relaxed);
        let server_peak = sampler.join().expect("sampler") as f64 / 1024.0;
        let rows = std::fs::read_to_string(&out).map(|t| t.lines().count().saturating_sub(1)).unwrap_or(0);
        let during = ingested.load(Ordering::Relaxed) - before;
        println!(
            "export {what} (CSV, through the API) while ingesting: {rows} rows in {:.1} s = {:.0} rows/s; \
             ingest meanwhile {:.0} events/s; server peak RSS {server_peak:.0} MiB",
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64(),
            during as f64 / elapsed.as_secs_f64()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = load.join();
    let _ = server.kill();
    let _ = server.wait();
}
