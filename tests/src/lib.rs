//! Shared helpers for Baton's integration tests: fixture components built from source by this
//! crate's build script, and runtimes over real sled stores.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use baton::contract::{Attribute, Invocation, Message, Subject, Value};
use baton::{LoadedPlugin, Runtime, RuntimeConfig, Storage};

/// The bytes of a fixture component, by crate name (`seg-vip`, `bad-spin`, ...).
pub fn fixture(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("BATON_FIXTURES_DIR")).join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A runtime over a fresh sled store in a temporary directory, with a small instance pool.
pub fn runtime() -> (Runtime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    (Runtime::new(test_config(), storage).unwrap(), dir)
}

/// The runtime settings tests use: defaults with a pool sized for a test process.
pub fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        max_instances: 32,
        ..RuntimeConfig::default()
    }
}

/// Installs a fixture, panicking with the install error if it fails.
pub fn install(runtime: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    runtime
        .install(&fixture(name))
        .unwrap_or_else(|e| panic!("install {name}: {e}"))
}

/// An invocation for campaign `c-1` at a fixed time with a fixed seed.
pub fn invocation(config: &str) -> Invocation {
    Invocation {
        campaign_id: "c-1".into(),
        config: config.into(),
        now: 1_750_000_000_000,
        seed: 42,
    }
}

/// A subject with the given text and float attributes and no events.
pub fn subject(id: &str, attributes: &[(&str, Value)]) -> Subject {
    Subject {
        profile_id: id.into(),
        attributes: attributes
            .iter()
            .map(|(name, value)| Attribute {
                name: (*name).into(),
                value: value.clone(),
            })
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
        message: serde_json::json!({"body": "hi"}),
        variant: None,
        attempts: 0,
        next_attempt_at: due,
        enqueued_at: due,
        last_error: None,
    };
    let sent_to = baton::SentTo {
        at: due,
        channel: "email".into(),
        campaign: campaign.into(),
        transactional: false,
    };
    (send, sent_to)
}

/// An engine over a fresh sled store and runtime, with a clock the test controls.
pub fn engine() -> (baton::Engine, Arc<baton::FixedClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let clock = Arc::new(baton::FixedClock::at(1_750_000_000_000));
    (
        baton::Engine::new(storage, runtime, clock.clone()),
        clock,
        dir,
    )
}

/// A draft email campaign triggered by `signed_up`.
pub fn welcome_campaign() -> baton::Campaign {
    baton::Campaign {
        id: "welcome".into(),
        name: "Welcome".into(),
        state: baton::CampaignState::Draft,
        trigger: baton::Trigger::Event {
            event: "signed_up".into(),
            filter: Default::default(),
        },
        channel: "email".into(),
        purpose: "marketing".into(),
        transactional: false,
        priority: 0,
        message: baton::MessageTemplate {
            subject: Some("Welcome {{first_name}}".into()),
            body: "Hello {{first_name}}".into(),
            html: None,
            data: serde_json::json!({}),
        },
        experiment: None,
        created_at: 0,
        updated_at: 0,
    }
}
