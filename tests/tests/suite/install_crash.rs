//! kill -9 during plugin install: the store holds the plugin whole or not at all, and installing
//! again works.

use std::process::Stdio;
use std::time::Duration;

use baton_tests::baton;

#[test]
fn an_install_killed_at_any_point_leaves_no_half_installed_plugin() {
    for round in 0..4u64 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut child = baton_tests::baton_command(&data)
            .args(["plugin", "install", "first-party:personalize-liquid"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different point each round: before, during and after compilation.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
        std::thread::sleep(Duration::from_millis((round * 400 + nanos % 400) % 1_600));
        let _ = child.kill();
        child.wait().unwrap();

        let storage = baton_tests::open_store(&data);
        let records = storage.plugins().unwrap();
        assert!(records.len() <= 1);
        for record in &records {
            assert!(storage.component(&record.hash).unwrap().is_some(), "a record without its component");
        }
        drop(storage);
        let (ok, out, err) =
            baton(&data, &["plugin", "install", "first-party:personalize-liquid", "--output", "json"]);
        assert!(ok, "installing again works: {err}");
        assert!(out.contains("\"personalize-liquid\""));
        let (_, list, _) = baton(&data, &["plugin", "list", "--output", "json"]);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&list).unwrap().as_array().unwrap().len(), 1);
    }
}
