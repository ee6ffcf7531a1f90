//! Shared helpers for Baton's integration tests: fixture components built from source by this
//! crate's build script, and runtimes over real stores.
//!
//! The suite's source is built twice: as `suite`, on sled stores in temporary directories, and as
//! `suite_postgres`, where each of those directories stands for a schema of its own in a real
//! PostgreSQL cluster ([`postgres::shared`]). Tests open stores and run `baton` through
//! [`open_store`], [`store_config`] and [`baton_command`], so the same test runs on both.

#![allow(clippy::unwrap_used)]

pub mod browser;
pub mod figures;
pub mod native;
pub mod polyglot;
pub mod postgres;

use std::path::PathBuf;
use std::sync::Arc;

use baton::contract::{Attribute, Invocation, Message, Subject, Value};
use baton::{LoadedPlugin, Runtime, RuntimeConfig, Storage};

/// The bytes of a fixture component, by crate name (`seg-vip`, `bad-spin`, ...).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("BATON_FIXTURES_DIR")).join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Whether this test binary runs on PostgreSQL (the `suite_postgres` build of the suite).
pub fn on_postgres() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        let exe = std::env::current_exe().ok();
        exe.as_deref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("suite_postgres"))
    })
}

/// The PostgreSQL store that stands for data directory `dir` on this suite's backend (`None` on
/// sled): a schema named after the directory in the shared cluster, so two opens of one
/// directory meet the same data and two directories never do.
pub fn store_url(dir: &std::path::Path) -> Option<String> {
    use sha2::Digest;
    if !on_postgres() {
        return None;
    }
    let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    Some(format!("{}?schema=t{}", postgres::shared(), hex::encode(&digest[..10])))
}

/// Store settings for data directory `dir` on this suite's backend.
pub fn store_config(dir: &std::path::Path) -> baton::StorageConfig {
    baton::StorageConfig { url: store_url(dir), ..baton::StorageConfig::default() }
}

/// Opens the store of data directory `dir` on this suite's backend.
pub fn open_store(dir: &std::path::Path) -> Storage {
    Storage::open_with(dir, &store_config(dir)).unwrap()
}

/// A fresh store on this suite's backend, removed with the returned directory (sled) or left in
/// the throwaway cluster (PostgreSQL).
pub fn temporary_store() -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (open_store(dir.path()), dir)
}

/// A `baton` command on data directory `data` and this suite's backend (`--data`, and on
/// PostgreSQL `BATON_STORE`).
pub fn baton_command(data: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(baton_bin());
    command.arg("--data").arg(data);
    if let Some(url) = store_url(data) {
        command.env("BATON_STORE", url);
    }
    command
}

/// A runtime over a fresh store (this suite's backend), with a small instance pool.
pub fn runtime() -> (Runtime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open_store(dir.path());
    (Runtime::new(test_config(), storage).unwrap(), dir)
}

/// The runtime settings tests use: defaults with a pool sized for a test process.
pub fn test_config() -> RuntimeConfig {
    RuntimeConfig { max_instances: 32, ..RuntimeConfig::default() }
}

/// Delivery settings for tests: defaults, except that vendor requests may go to the stand-ins
/// the tests start on loopback over plain HTTP (production refuses both).
pub fn delivery_config() -> baton::DeliveryConfig {
    baton::DeliveryConfig {
        outbound: baton::OutboundPolicy::local_stand_ins(),
        ..baton::DeliveryConfig::default()
    }
}

/// Engine settings for tests: defaults, with [`delivery_config`].
pub fn engine_config() -> baton::EngineConfig {
    baton::EngineConfig { delivery: delivery_config(), ..baton::EngineConfig::default() }
}

/// Engine settings for the suite's child processes (the crash and multi-worker tests):
/// [`engine_config`], with the delivery lease and claim size from `BATON_LEASE_MS` and
/// `BATON_CLAIM_BATCH` when set, so that a test with several workers on a real clock can spread
/// sends among them and see a dead worker's sends come due again within a second or two.
pub fn child_engine_config() -> baton::EngineConfig {
    let mut config = engine_config();
    let number = |name: &str| {
        std::env::var(name).ok().map(|v| v.parse::<i64>().unwrap_or_else(|e| panic!("{name}: {e}")))
    };
    if let Some(lease) = number("BATON_LEASE_MS") {
        config.delivery.lease_ms = lease;
        // A send retried after a slow answer comes back within the test's patience too.
        config.delivery.max_backoff_ms = lease;
    }
    if let Some(batch) = number("BATON_CLAIM_BATCH") {
        config.delivery.claim_batch = batch as usize;
    }
    config
}

/// Opens the store of data directory `dir` for a child process: PostgreSQL when the parent
/// passed `BATON_STORE`, sled otherwise.
pub fn child_store(dir: &str) -> Storage {
    let url = std::env::var("BATON_STORE").ok();
    Storage::open_with(dir, &baton::StorageConfig { url, ..baton::StorageConfig::default() })
        .expect("open store")
}

/// Installs a fixture, panicking with the install error if it fails.
pub fn install(runtime: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    runtime.install(&fixture(name)).unwrap_or_else(|e| panic!("install {name}: {e}"))
}

/// An invocation for campaign `c-1` at a fixed time with a fixed seed.
pub fn invocation(config: &str) -> Invocation {
    Invocation { campaign_id: "c-1".into(), config: config.into(), now: 1_750_000_000_000, seed: 42 }
}

/// A subject with the given text and float attributes and no events.
pub fn subject(id: &str, attributes: &[(&str, Value)]) -> Subject {
    Subject {
        profile_id: id.into(),
        attributes: attributes
            .iter()
            .map(|(name, value)| Attribute { name: (*name).into(), value: value.clone() })
            .collect(),
        events: Vec::new(),
        timezone: None,
        trigger: None,
    }
}

/// A bare email message to `a@example.com` with idempotency key `k`.
pub fn message() -> Message {
    Message {
        channel: "email".into(),
        recipient: "a@example.com".into(),
        subject: None,
        body: String::new(),
        html: None,
        variant_id: None,
        data: "{}".into(),
        idempotency_key: "k".into(),
    }
}

/// A pending send for `profile` in `campaign`, due at `due`, keyed `campaign:profile:step`.
pub fn pending_send(
    campaign: &str,
    profile: baton::ProfileId,
    step: &str,
    due: i64,
) -> (baton::PendingSend, baton::SentTo) {
    let send = baton::PendingSend {
        idempotency_key: format!("{campaign}:{profile}:{step}"),
        campaign: campaign.into(),
        profile,
        step: step.into(),
        channel_plugin: baton::ContentHash::of(b"channel"),
        channel_config: serde_json::json!({}),
        message: serde_json::json!({"body": "hi"}),
        variant: None,
        attempts: 0,
        next_attempt_at: due,
        enqueued_at: due,
        last_error: None,
        channel_grants: None,
    };
    let sent_to = baton::SentTo {
        at: due,
        channel: "email".into(),
        campaign: campaign.into(),
        transactional: false,
        priority: 0,
    };
    (send, sent_to)
}

/// An engine over a fresh sled store and runtime, with a clock the test controls.
pub fn engine() -> (baton::Engine, Arc<baton::FixedClock>, tempfile::TempDir) {
    engine_with(engine_config())
}

/// Like [`engine`], with these settings.
pub fn engine_with(
    config: baton::EngineConfig,
) -> (baton::Engine, Arc<baton::FixedClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = open_store(dir.path());
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let clock = Arc::new(baton::FixedClock::at(1_750_000_000_000));
    let engine = baton::Engine::new(storage, runtime, clock.clone(), config).unwrap();
    (engine, clock, dir)
}

/// A draft email campaign triggered by `signed_up`.
pub fn welcome_campaign() -> baton::Campaign {
    baton::Campaign {
        id: "welcome".into(),
        name: "Welcome".into(),
        state: baton::CampaignState::Draft,
        trigger: baton::Trigger::Event { event: "signed_up".into(), filter: Default::default() },
        channel: "email".into(),
        purpose: "marketing".into(),
        transactional: false,
        priority: 0,
        message: baton::MessageTemplate {
            subject: Some("Welcome {{first_name}}".into()),
            body: "Hello {{first_name}}".into(),
            html: None,
            data: serde_json::json!({}),
            content: None,
            locales: Default::default(),
        },
        experiment: None,
        conversion: None,
        audience: None,
        rate_limit_per_minute: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// One request the vendor stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method and path, for example `POST /send`.
    pub line: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A local HTTP server standing in for a vendor: records every request and answers from a
/// script of responses (then 202 with an `x-message-id`).
pub struct Vendor {
    /// Where it listens (`127.0.0.1:<port>`).
    pub addr: std::net::SocketAddr,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    echo: Arc<std::sync::atomic::AtomicBool>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
    received: Arc<std::sync::Mutex<Vec<Received>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<(u16, Vec<(String, String)>)>>>,
}

impl Vendor {
    /// Starts the stand-in on an ephemeral loopback port.
    pub async fn start() -> Vendor {
        let received: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<std::sync::Mutex<std::collections::VecDeque<(u16, Vec<(String, String)>)>>> =
            Arc::default();
        let delay_ms: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let echo: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let gate = Arc::new(tokio::sync::watch::Sender::new(true));
        let (log, answers, delay, echoing, open) =
            (received.clone(), script.clone(), delay_ms.clone(), echo.clone(), gate.clone());
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (log, answers, delay, echoing, open) =
                (log.clone(), answers.clone(), delay.clone(), echoing.clone(), open.clone());
            async move {
                let at = std::time::Instant::now();
                let line = format!("{} {}", request.method(), request.uri().path());
                let headers: Vec<(String, String)> = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
                let echoed = headers.clone();
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Received {
                        line,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at,
                    });
                    log.len()
                };
                // Recorded on arrival; a held vendor answers when released, a slow one late.
                let _ = open.subscribe().wait_for(|open| *open).await;
                let pause = delay.load(std::sync::atomic::Ordering::Relaxed);
                if pause > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                let (status, headers) = answers
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| (202, vec![("x-message-id".into(), format!("m-{n}"))]));
                let mut response = axum::response::Response::builder().status(status);
                for (k, v) in headers.iter() {
                    response = response.header(k, v);
                }
                if echoing.load(std::sync::atomic::Ordering::Relaxed) {
                    // A careless vendor: repeats the request, credentials and all.
                    let all = echoed.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ");
                    let receipt = echoed.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone());
                    let response = axum::response::Response::builder()
                        .status(status)
                        .header("x-message-id", receipt.unwrap_or_default());
                    let text = format!("you sent {all} with {}", String::from_utf8_lossy(&body));
                    return response.body(axum::body::Body::from(text)).unwrap();
                }
                response.body(axum::body::Body::from("{}")).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Vendor { addr, delay_ms, echo, gate, received, script }
    }

    /// Holds every answer (requests are still recorded on arrival) until [`Vendor::release`].
    pub fn hold(&self) {
        self.gate.send_replace(false);
    }

    /// Answers the held requests, and the next ones at once.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    /// Makes every answer repeat the request it got: its headers (the credentials included) in
    /// the body and the `authorization` header as the `x-message-id`, as a careless vendor might.
    pub fn echo_requests(&self) {
        self.echo.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Queues responses: each request takes the next one.
    pub fn answer(&self, responses: &[(u16, &[(&str, &str)])]) {
        let mut script = self.script.lock().unwrap();
        for (status, headers) in responses {
            script.push_back((
                *status,
                headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ));
        }
    }

    /// Makes every answer take this long (a slow vendor).
    pub fn set_delay_ms(&self, ms: u64) {
        self.delay_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The URL of a path on this vendor.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The grants `chan-echo` needs: loopback and its token.
pub fn echo_grants() -> baton::Grants {
    baton::Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec!["ECHO_TOKEN".into()] }
}

/// Installs `seg-vip` (bound with `segment_config`), optionally `pers-greeting`, and `chan-echo`
/// (posting to `channel_url` with `grants`); creates `campaign` and activates it.
pub fn activate(
    engine: &baton::Engine,
    campaign: baton::Campaign,
    segment_config: serde_json::Value,
    personalize: bool,
    channel_url: &str,
    grants: baton::Grants,
) {
    use baton::{Grants, Slot};
    let id = campaign.id.clone();
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    engine.create_campaign("test", campaign).unwrap();
    engine.bind("test", &id, Slot::Segment, segment, segment_config, Grants::default()).unwrap();
    if personalize {
        let greeting = engine.runtime().install(&fixture("pers-greeting")).unwrap().hash();
        engine
            .bind("test", &id, Slot::Personalizer, greeting, serde_json::json!({}), Grants::default())
            .unwrap();
    }
    engine
        .bind("test", &id, Slot::Channel, channel, serde_json::json!({ "url": channel_url }), grants)
        .unwrap();
    engine.transition("test", &id, baton::CampaignState::Active).unwrap();
}

/// An event `name` of user `user` at `at`, with no properties.
pub fn user_event(id: &str, user: &str, name: &str, at: i64) -> baton::NewEvent {
    baton::NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: name.into(),
        timestamp: at,
        properties: serde_json::Map::new(),
        campaign: None,
    }
}

/// Creates a customer with traits; `consent` grants email marketing.
pub fn customer(
    engine: &baton::Engine,
    user: &str,
    traits: serde_json::Value,
    consent: bool,
) -> baton::ProfileId {
    let traits = traits.as_object().unwrap().clone();
    let id = engine.storage().identify(Some(user), None, &traits, 1).unwrap();
    if consent {
        engine
            .storage()
            .update_profile(id, 2, |p| p.set_consent("email", "marketing", baton::ConsentState::Granted, 2))
            .unwrap();
    }
    id
}

/// Starts the real API server on an ephemeral loopback port over `engine`; returns its base URL.
pub async fn serve(engine: Arc<baton::Engine>, config: baton::ApiConfig) -> String {
    let state = baton::AppState::new(engine, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, baton::router(state)).await });
    format!("http://{addr}")
}

/// An HTTP client for talking to the server under test.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The `baton` binary built by this `cargo test` run (beside the test executables).
pub fn baton_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = dir.join(format!("baton{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} not built; run the tests with `cargo test --workspace`", bin.display());
    bin
}

/// A `baton serve` process on a free loopback port over a data directory, stopped when dropped.
pub struct ServeProcess {
    child: std::process::Child,
    /// Its base URL (`http://127.0.0.1:<port>`).
    pub url: String,
}

impl ServeProcess {
    /// Starts `baton --data <data> <options> serve --addr 127.0.0.1:0` and waits for its address.
    pub fn start(data: &std::path::Path, options: &[&std::ffi::OsStr]) -> ServeProcess {
        use std::io::BufRead;
        let mut child = baton_command(data)
            .args(options)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("baton listening on ").unwrap().to_owned();
        ServeProcess { child, url }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `baton` with `args` on a data directory; returns (success, stdout, stderr).
pub fn baton(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = baton_command(data).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
