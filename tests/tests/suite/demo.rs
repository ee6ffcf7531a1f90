//! `baton demo`'s scenario: deterministic, and its numbers add up.

use baton::SkipReason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_deterministic_and_its_numbers_add_up() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = baton::demo_scenario::run(a.path(), 400, 7).await.unwrap();
    let second = baton::demo_scenario::run(b.path(), 400, 7).await.unwrap();
    assert_eq!(baton::demo_scenario::render(&first), baton::demo_scenario::render(&second));

    assert_eq!(first.profiles, 400);
    // Welcome: everyone with an email is in the audience; consent decides who is messaged.
    let welcome = &first.welcome;
    assert_eq!((welcome.evaluated, welcome.audience), (400, 400));
    assert_eq!(welcome.queued + welcome.skipped.get(&SkipReason::NoConsent).copied().unwrap_or(0), 400);
    // Win-back: every audience member is queued, refused consent, or held out.
    let winback = &first.winback;
    let skipped: usize = winback.skipped.values().sum();
    assert_eq!(winback.queued + skipped, winback.audience);
    assert!(winback.audience > 0 && winback.audience < 400);
    assert_eq!(winback.variants.values().sum::<usize>(), winback.queued);
    // Everything queued was delivered, once, to the stand-in vendor.
    assert_eq!(first.delivered["welcome"], welcome.queued);
    assert_eq!(first.delivered["win-back"], winback.queued);
    assert_eq!(first.vendor_requests as usize, welcome.queued + winback.queued);
    // The KPI calculator saw the same deliveries.
    for (campaign, snapshots) in &first.kpis {
        let funnel = snapshots.iter().find(|s| s.kpi == "funnel").unwrap();
        let delivered = funnel.metrics.as_array().unwrap().iter().find(|m| m["name"] == "delivered").unwrap()
            ["value"]
            .as_f64()
            .unwrap();
        assert_eq!(delivered as usize, first.delivered[campaign], "{campaign}");
    }
    let text = baton::demo_scenario::render(&first);
    assert!(text.starts_with("Baton demo: 400 profiles, "));
    assert!(text.contains("KPIs: win-back"));
    assert!(text.contains("[attribution] revenue of "), "{text}");
    assert!(text.contains("[romi]"));
}
