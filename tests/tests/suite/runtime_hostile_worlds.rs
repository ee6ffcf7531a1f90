//! Hostile plugins of the personalizer, channel-adapter and KPI worlds: traps, endless loops and
//! endless allocation each fail that call with the exact limit, and the host keeps serving.

use std::time::Duration;

use baton::contract::{Event, Message};
use baton::{Failure, Limits};
use baton_tests::{install, invocation, message, runtime, subject};

fn limits() -> Limits {
    Limits {
        fuel: 50_000_000,
        deadline: Duration::from_secs(30),
        memory_bytes: 16 << 20,
        ..Limits::default()
    }
}

fn expect(failure: &Failure, behaviour: &str) {
    match (behaviour, failure) {
        ("trap", Failure::Trap { message }) => assert!(message.contains("unreachable"), "{message}"),
        ("spin", Failure::FuelExhausted { budget }) => assert_eq!(*budget, 50_000_000),
        ("hog", Failure::MemoryCapExceeded { cap_bytes }) => assert_eq!(*cap_bytes, 16 << 20),
        (behaviour, failure) => panic!("{behaviour}: unexpected {failure}"),
    }
}

fn config(behaviour: &str) -> String {
    serde_json::json!({ "do": behaviour }).to_string()
}

#[test]
fn every_world_contains_its_bad_plugins() {
    let (runtime, _dir) = runtime();
    let personalizer = install(&runtime, "bad-pers-any");
    let channel = install(&runtime, "bad-chan-any");
    let kpi = install(&runtime, "bad-kpi-any");
    let template: Message = message();
    for behaviour in ["trap", "spin", "hog"] {
        let inv = invocation(&config(behaviour));
        let err = runtime
            .call(&personalizer)
            .with_limits(limits())
            .personalize(&inv, &subject("p", &[]), &template)
            .unwrap_err();
        expect(&err.failure, behaviour);
        let err = runtime.call(&channel).with_limits(limits()).build(&inv, &template).unwrap_err();
        expect(&err.failure, behaviour);
        let mut run = runtime.call(&kpi).with_limits(limits()).open_kpi(&inv).unwrap();
        let event = Event {
            id: "e".into(),
            profile_id: "p".into(),
            name: "x".into(),
            timestamp: 0,
            properties: "{}".into(),
            campaign_id: None,
        };
        let err = run.add(&[event]).unwrap_err();
        expect(&err.failure, behaviour);
    }
    // Behaving, each still works right after.
    let calm = invocation(&config("nothing"));
    assert_eq!(
        runtime.call(&personalizer).personalize(&calm, &subject("p", &[]), &template).unwrap().value,
        template
    );
    assert!(runtime.call(&channel).build(&calm, &template).unwrap().value.is_empty());
    let mut run = runtime.call(&kpi).open_kpi(&calm).unwrap();
    run.add(&[]).unwrap();
    assert!(run.finish().unwrap().value.is_empty());
}
