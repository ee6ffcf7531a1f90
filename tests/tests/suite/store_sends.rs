//! The send lifecycle in the store: idempotent enqueue, leases, retries, dead letters and
//! replay, delivery and skip records, KPI snapshots, campaigns and bindings.

use baton::{
    Binding, Campaign, CampaignState, ContentHash, Grants, KpiSnapshot, MessageTemplate, ProfileId,
    SendOutcome, SkipReason, SkipRecord, Slot, Storage, Trigger,
};
use baton_tests::pending_send;

const P1: ProfileId = ProfileId(1);
const P2: ProfileId = ProfileId(2);

/// A store holding the profiles `P1` and `P2`: the outbox takes sends for existing profiles only
/// (an erased one is never messaged).
fn store_with_two_profiles() -> Storage {
    let (storage, _dir) = baton_tests::temporary_store();
    let first = storage.identify(Some("p1"), None, &serde_json::Map::new(), 1).unwrap();
    let second = storage.identify(Some("p2"), None, &serde_json::Map::new(), 1).unwrap();
    assert_eq!((first, second), (P1, P2));
    storage
}

#[test]
fn an_idempotency_key_is_accepted_once_ever() {
    let storage = store_with_two_profiles();
    let first = storage
        .enqueue(&[pending_send("welcome", P1, "signup", 100), pending_send("welcome", P1, "signup", 100)])
        .unwrap();
    assert_eq!(first, vec![true, false]);
    let claimed = storage.claim_due(100, 10, 30_000).unwrap();
    assert_eq!(claimed.len(), 1);
    let key = &claimed[0].idempotency_key;
    assert!(storage.finish_send(key, SendOutcome::Delivered { receipt: Some("m-1".into()) }, 150).unwrap());
    // Even after the send finished, the same key is refused: no second delivery.
    assert_eq!(storage.enqueue(&[pending_send("welcome", P1, "signup", 200)]).unwrap(), vec![false]);
    assert!(!storage.finish_send(key, SendOutcome::Delivered { receipt: None }, 160).unwrap());
    let deliveries = storage.deliveries("welcome").unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].outcome, SendOutcome::Delivered { receipt: Some("m-1".into()) });
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(storage.outbox_len(), 0);
}

#[test]
fn claims_take_due_sends_in_order_and_lease_them() {
    let storage = store_with_two_profiles();
    storage
        .enqueue(&[
            pending_send("c", P1, "late", 300),
            pending_send("c", P1, "early", 100),
            pending_send("c", P2, "mid", 200),
        ])
        .unwrap();
    let due = storage.claim_due(250, 10, 1_000).unwrap();
    assert_eq!(due.iter().map(|s| s.step.as_str()).collect::<Vec<_>>(), vec!["early", "mid"]);
    assert!(due.iter().all(|s| s.next_attempt_at == 1_250));
    // Leased: not due again until the lease runs out (only `late` is due at 400)...
    let steps = |sends: Vec<baton::PendingSend>| sends.into_iter().map(|s| s.step).collect::<Vec<_>>();
    assert_eq!(steps(storage.claim_due(400, 10, 1_000).unwrap()), vec!["late"]);
    // ...then due again (the claimant died): at-least-once. `late` is leased until 1,400.
    assert_eq!(steps(storage.claim_due(1_300, 10, 1_000).unwrap()), vec!["early", "mid"]);
    assert_eq!(steps(storage.claim_due(1_400, 10, 1_000).unwrap()), vec!["late"]);
}

#[test]
fn retries_then_dead_letters_then_replay() {
    let storage = store_with_two_profiles();
    storage.enqueue(&[pending_send("promo", P1, "run-1", 0)]).unwrap();
    let key = "promo:pr_0000000000000001:run-1";
    assert!(storage.retry_send(key, 5_000, "vendor answered 503").unwrap());
    assert!(storage.claim_due(4_999, 10, 100).unwrap().is_empty());
    let retried = storage.claim_due(5_000, 10, 100).unwrap();
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].last_error.as_deref(), Some("vendor answered 503"));

    assert!(
        storage
            .finish_send(key, SendOutcome::DeadLettered { reason: "503 after 2 attempts".into() }, 6_000)
            .unwrap()
    );
    let dead = storage.dead_letters("promo").unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].last_error.as_deref(), Some("503 after 2 attempts"));
    assert_eq!(storage.outbox_len(), 0);

    assert_eq!(storage.replay_dead_letters("promo", 7_000).unwrap(), 1);
    assert!(storage.dead_letters("promo").unwrap().is_empty());
    let replayed = storage.claim_due(7_000, 10, 100).unwrap();
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].attempts, 0);
    assert!(storage.finish_send(key, SendOutcome::Delivered { receipt: None }, 7_100).unwrap());
    let outcomes: Vec<SendOutcome> =
        storage.deliveries("promo").unwrap().into_iter().map(|d| d.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            SendOutcome::DeadLettered { reason: "503 after 2 attempts".into() },
            SendOutcome::Delivered { receipt: None }
        ]
    );
}

/// Handles on one store for `n` claimants: on PostgreSQL each opens the store itself, as
/// separate workers do; on sled they share the one process's store.
fn claimants(dir: &std::path::Path, storage: &Storage, n: usize) -> Vec<Storage> {
    (0..n)
        .map(|_| if baton_tests::on_postgres() { baton_tests::open_store(dir) } else { storage.clone() })
        .collect()
}

/// Four claimants taking the same due sends at once, a few at a time, each finishing what it
/// took: every send is claimed by exactly one of them and finished once, and nothing is left.
#[test]
fn claimants_at_once_take_disjoint_sends_and_finish_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let profile = storage.identify(Some("p1"), None, &serde_json::Map::new(), 1).unwrap();
    let sends: Vec<_> =
        (0..240).map(|i| pending_send("burst", profile, &format!("s{i:03}"), i % 50)).collect();
    assert!(storage.enqueue(&sends).unwrap().iter().all(|accepted| *accepted));
    let workers: Vec<_> = claimants(dir.path(), &storage, 4)
        .into_iter()
        .enumerate()
        .map(|(worker, store)| {
            std::thread::spawn(move || {
                let mut took = Vec::new();
                loop {
                    // The lease outlasts the test: a send is due to no one once claimed.
                    let claimed = store.claim_due(100, 7, 3_600_000).unwrap();
                    if claimed.is_empty() {
                        return took;
                    }
                    for send in claimed {
                        let receipt = format!("w{worker}-{}", send.step);
                        let outcome = SendOutcome::Delivered { receipt: Some(receipt) };
                        assert!(store.finish_send(&send.idempotency_key, outcome, 200).unwrap());
                        took.push(send.step);
                    }
                }
            })
        })
        .collect();
    let took: Vec<Vec<String>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut all: Vec<&String> = took.iter().flatten().collect();
    all.sort();
    let expected: Vec<String> = (0..240).map(|i| format!("s{i:03}")).collect();
    assert_eq!(all, expected.iter().collect::<Vec<_>>(), "each send claimed once, none lost");
    let deliveries = storage.deliveries("burst").unwrap();
    assert_eq!(deliveries.len(), 240);
    assert!(deliveries.iter().all(|d| d.attempts == 1));
    assert_eq!(storage.outbox_len(), 0);
    assert!(storage.claim_due(i64::MAX / 2, 1_000, 1).unwrap().is_empty());
}

/// A claimant whose lease ran out finishing its sends while another claims them again: each
/// send ends exactly once (whichever comes first), the later claimant's finish is refused, and
/// no send is left in the outbox to go out a third time. Then an erasure racing with claims of
/// the erased person's sends removes every one of them.
#[test]
fn a_finish_racing_a_new_claim_or_an_erasure_leaves_no_send_behind() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let first = storage.identify(Some("p1"), None, &serde_json::Map::new(), 1).unwrap();
    let sends: Vec<_> = (0..150).map(|i| pending_send("race", first, &format!("s{i:03}"), 0)).collect();
    storage.enqueue(&sends).unwrap();
    // The first claimant leases everything until 110.
    let leased = storage.claim_due(100, 1_000, 10).unwrap();
    assert_eq!(leased.len(), 150);
    let mut handles = claimants(dir.path(), &storage, 2).into_iter();
    let (late, again) = (handles.next().unwrap(), handles.next().unwrap());
    let finishing = std::thread::spawn(move || {
        leased
            .iter()
            .filter(|send| {
                late.finish_send(&send.idempotency_key, SendOutcome::Delivered { receipt: None }, 300)
                    .unwrap()
            })
            .count()
    });
    let claiming = std::thread::spawn(move || {
        let mut reclaimed = Vec::new();
        loop {
            let claimed = again.claim_due(200, 5, 3_600_000).unwrap();
            if claimed.is_empty() {
                break;
            }
            reclaimed.extend(claimed);
        }
        reclaimed
            .iter()
            .filter(|send| {
                again
                    .finish_send(&send.idempotency_key, SendOutcome::Delivered { receipt: None }, 400)
                    .unwrap()
            })
            .count()
    });
    let (by_late, by_again) = (finishing.join().unwrap(), claiming.join().unwrap());
    assert_eq!(by_late + by_again, 150, "the first finish of each send lands, the second is refused");
    assert_eq!(storage.deliveries("race").unwrap().len(), 150);
    assert_eq!(storage.outbox_len(), 0);

    let second = storage.identify(Some("p2"), None, &serde_json::Map::new(), 1).unwrap();
    let sends: Vec<_> = (0..150).map(|i| pending_send("erased", second, &format!("s{i:03}"), 0)).collect();
    storage.enqueue(&sends).unwrap();
    let claimant = claimants(dir.path(), &storage, 1).remove(0);
    let claiming = std::thread::spawn(move || {
        // Each claim leases the due sends a millisecond past `now`, and the next `now` is later
        // still: the sends keep moving while the erasure plans (for 40 claims, so that it ends).
        for round in 0..40 {
            claimant.claim_due(1_000 + 2 * round, 20, 1).unwrap();
        }
    });
    let erased = storage.erase_profile(second, "admin", 2_000).unwrap().unwrap();
    claiming.join().unwrap();
    assert_eq!(erased.sends, 150);
    assert_eq!(storage.outbox_len(), 0);
    assert!(storage.claim_due(10_000, 1_000, 1).unwrap().is_empty());
}

#[test]
fn send_history_per_profile_serves_frequency_caps() {
    let storage = store_with_two_profiles();
    storage
        .enqueue(&[
            pending_send("a", P1, "1", 1_000),
            pending_send("b", P1, "2", 5_000),
            pending_send("a", P2, "3", 6_000),
        ])
        .unwrap();
    let since = storage.sends_to(P1, 2_000).unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!((since[0].at, since[0].campaign.as_str(), since[0].channel.as_str()), (5_000, "b", "email"));
    assert_eq!(storage.sends_to(P1, 0).unwrap().len(), 2);
}

#[test]
fn skips_and_kpi_snapshots_are_kept_per_campaign_in_time_order() {
    let (storage, _dir) = baton_tests::temporary_store();
    let skip =
        |profile, reason, at| SkipRecord { campaign: "c".into(), profile, reason, detail: String::new(), at };
    storage
        .record_skips(&[skip(P2, SkipReason::QuietHours, 20), skip(P1, SkipReason::NoConsent, 10)])
        .unwrap();
    let reasons: Vec<&str> = storage.skips("c").unwrap().iter().map(|s| s.reason.code()).collect();
    assert_eq!(reasons, vec!["no_consent", "quiet_hours"]);
    assert!(storage.skips("other").unwrap().is_empty());

    for (at, total) in [(200, 7.0), (100, 3.0)] {
        storage
            .put_kpi_snapshot(&KpiSnapshot {
                campaign: "c".into(),
                kpi: "funnel".into(),
                plugin: ContentHash::of(b"kpi"),
                at,
                events: 10,
                metrics: serde_json::json!([{"name": "sent", "value": total}]),
                reads: String::new(),
            })
            .unwrap();
    }
    let snapshots = storage.kpi_snapshots("c").unwrap();
    assert_eq!(snapshots.iter().map(|s| s.at).collect::<Vec<_>>(), vec![100, 200]);
}

#[test]
fn campaigns_and_bindings_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = Campaign {
        id: "welcome".into(),
        name: "Welcome".into(),
        state: CampaignState::Draft,
        trigger: Trigger::Event { event: "signed_up".into(), filter: Default::default() },
        channel: "email".into(),
        purpose: "marketing".into(),
        transactional: false,
        priority: 10,
        message: MessageTemplate {
            subject: Some("Hi".into()),
            body: "Welcome".into(),
            html: None,
            data: serde_json::json!({}),
            content: None,
            locales: Default::default(),
        },
        experiment: None,
        conversion: None,
        audience: None,
        rate_limit_per_minute: None,
        created_at: 1,
        updated_at: 1,
    };
    assert!(campaign.problems().is_empty(), "{:?}", campaign.problems());
    let plugin = ContentHash::of(b"seg");
    let binding = Binding {
        campaign: "welcome".into(),
        slot: Slot::Segment,
        plugin,
        config: serde_json::json!({"tier": "vip"}),
        grants: Grants::default(),
        bound_at: 2,
    };
    {
        let storage = baton_tests::open_store(dir.path());
        storage.put_campaign(&campaign).unwrap();
        storage.put_binding(&binding).unwrap();
        storage.put_binding(&Binding { slot: Slot::Kpi("funnel".into()), ..binding.clone() }).unwrap();
    }
    let storage = baton_tests::open_store(dir.path());
    assert_eq!(storage.campaign("welcome").unwrap(), Some(campaign.clone()));
    assert_eq!(storage.campaigns().unwrap(), vec![campaign]);
    assert_eq!(storage.binding("welcome", &Slot::Segment).unwrap(), Some(binding.clone()));
    assert_eq!(storage.bindings("welcome").unwrap().len(), 2);
    assert_eq!(storage.bindings_of_plugin(&plugin).unwrap().len(), 2);
    assert!(storage.remove_binding("welcome", &Slot::Segment).unwrap());
    assert!(!storage.remove_binding("welcome", &Slot::Segment).unwrap());
    assert_eq!(storage.bindings("welcome").unwrap().len(), 1);
}

#[test]
fn campaign_definitions_are_checked_field_by_field() {
    let json = serde_json::json!({
        "id": "Bad Id", "name": " ", "state": "draft",
        "trigger": {"type": "batch", "every_ms": 0},
        "channel": "email",
        "message": {"body": "x", "data": []},
        "experiment": {"variants": [{"id": "A", "weight": 0, "message": {"body": "y", "data": [null]}}], "control_percent": 120},
        "created_at": 0, "updated_at": 0
    });
    let campaign: Campaign = serde_json::from_value(json).unwrap();
    assert_eq!(
        campaign.problems(),
        vec![
            "id `Bad Id`: use 1 to 64 lowercase letters, digits, `-` and `_`",
            "name: must not be empty",
            "experiment.variants[0].message.data: must be a JSON object",
            "trigger.every_ms: must be more than 0",
            "message.data: must be a JSON object",
            "experiment.control_percent: must be 0 to 100",
            "experiment.variants[0].weight: must be more than 0",
        ]
    );
    let typo = serde_json::json!({"id": "x", "name": "x", "state": "draft", "trigger": {"type": "batch"},
        "channel": "email", "message": {"body": "x"}, "priorty": 3, "created_at": 0, "updated_at": 0});
    let err = serde_json::from_value::<Campaign>(typo).unwrap_err();
    assert!(err.to_string().starts_with("unknown field `priorty`"), "{err}");
}
