//! Campaign lifecycle and bindings through the engine, against real installed plugins.

use baton::{CampaignState, EngineError, Grants, Slot};
use baton_tests::{engine, fixture, welcome_campaign};

fn echo_grants() -> Grants {
    Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec!["ECHO_TOKEN".into()] }
}

#[test]
fn a_campaign_becomes_active_only_when_its_plugins_are_bound_and_valid() {
    let (engine, _clock, _dir) = engine();
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    let created = engine.create_campaign("test", welcome_campaign()).unwrap();
    assert_eq!(created.state, CampaignState::Draft);

    let err = engine.transition("test", "welcome", CampaignState::Active).unwrap_err();
    assert_eq!(
        err.to_string(),
        "campaign `welcome` cannot be activated: no segment plugin is bound; no channel plugin is bound"
    );

    engine
        .bind(
            "test",
            "welcome",
            Slot::Segment,
            segment,
            serde_json::json!({"tier": "vip"}),
            Grants::default(),
        )
        .unwrap();
    engine
        .bind(
            "test",
            "welcome",
            Slot::Channel,
            channel,
            serde_json::json!({"url": "http://127.0.0.1:9/send"}),
            echo_grants(),
        )
        .unwrap();
    assert_eq!(
        engine.transition("test", "welcome", CampaignState::Active).unwrap().state,
        CampaignState::Active
    );
    assert_eq!(
        engine.transition("test", "welcome", CampaignState::Paused).unwrap().state,
        CampaignState::Paused
    );
    assert_eq!(
        engine.transition("test", "welcome", CampaignState::Ended).unwrap().state,
        CampaignState::Ended
    );
    let err = engine.transition("test", "welcome", CampaignState::Active).unwrap_err();
    assert!(matches!(
        err,
        EngineError::InvalidTransition { from: CampaignState::Ended, to: CampaignState::Active, .. }
    ));
}

#[test]
fn bindings_are_checked_against_the_plugin() {
    let (engine, _clock, _dir) = engine();
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    engine.create_campaign("test", welcome_campaign()).unwrap();

    let err = engine
        .bind("test", "welcome", Slot::Channel, segment, serde_json::json!({}), Grants::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "slot `channel` needs a channel-adapter plugin, but seg-vip@1.0.0 is a segment-rule"
    );

    let err = engine
        .bind("test", "welcome", Slot::Segment, segment, serde_json::json!({"tier": 7}), Grants::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "plugin seg-vip@1.0.0 refused the config at `/tier`: must be a string");

    let err = engine
        .bind("test", "welcome", Slot::Channel, channel, serde_json::json!({"url": "ftp://x"}), echo_grants())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin chan-echo@1.0.0 refused the config at `/url`: must be an http:// or https:// URL"
    );

    let sneaky = Grants { allowed_hosts: vec!["evil.example".into()], secrets: vec![] };
    let err = engine
        .bind("test", "welcome", Slot::Channel, channel, serde_json::json!({"url": "http://x"}), sneaky)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "binding grants host `evil.example`, which plugin chan-echo@1.0.0 does not declare in info().needs"
    );

    let missing = baton::ContentHash::of(b"nothing");
    let err = engine
        .bind("test", "welcome", Slot::Segment, missing, serde_json::json!({}), Grants::default())
        .unwrap_err();
    assert_eq!(err.to_string(), format!("plugin {missing} is not installed"));
    assert!(engine.storage().bindings("welcome").unwrap().is_empty(), "no refused binding is stored");

    let err = engine
        .bind("test", "nope", Slot::Segment, segment, serde_json::json!({}), Grants::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "campaign `nope` does not exist");
}

#[test]
fn an_active_campaign_keeps_its_segment_and_channel_but_can_swap_them() {
    let (engine, _clock, _dir) = engine();
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    engine.bind("test", "welcome", Slot::Segment, segment, serde_json::json!({}), Grants::default()).unwrap();
    engine
        .bind(
            "test",
            "welcome",
            Slot::Channel,
            channel,
            serde_json::json!({"url": "http://127.0.0.1:9/"}),
            echo_grants(),
        )
        .unwrap();
    engine.transition("test", "welcome", CampaignState::Active).unwrap();

    let err = engine.unbind("test", "welcome", &Slot::Segment).unwrap_err();
    assert!(err.to_string().contains("an active campaign needs its segment binding"), "{err}");
    let swapped = engine
        .bind(
            "test",
            "welcome",
            Slot::Segment,
            segment,
            serde_json::json!({"tier": "gold"}),
            Grants::default(),
        )
        .unwrap();
    assert_eq!(engine.storage().binding("welcome", &Slot::Segment).unwrap(), Some(swapped));
}

#[test]
fn campaign_definitions_are_validated_and_ids_are_unique() {
    let (engine, _clock, _dir) = engine();
    let mut bad = welcome_campaign();
    bad.id = "Welcome!".into();
    let err = engine.create_campaign("test", bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "campaign is invalid: id `Welcome!`: use 1 to 64 lowercase letters, digits, `-` and `_`"
    );
    engine.create_campaign("test", welcome_campaign()).unwrap();
    let err = engine.create_campaign("test", welcome_campaign()).unwrap_err();
    assert_eq!(err.to_string(), "campaign `welcome` exists already; choose another id or update it");
}
