//! The `baton` binary: commands on a data directory, and `serve` with a graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_tests::{baton, baton_bin};

/// Every command and subcommand, found by walking `--help` from the top, explains itself.
#[test]
fn every_command_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (ok, out, _) = baton(dir.path(), &args);
        assert!(ok && out.contains("Usage:"), "{args:?}: {out}");
        seen += 1;
        let commands = out.split("Commands:\n").nth(1).unwrap_or_default();
        for line in commands.lines().take_while(|l| !l.trim().is_empty()) {
            let name = line.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && name != "help" {
                pending.push(path.iter().cloned().chain([name.to_owned()]).collect());
            }
        }
    }
    assert!(seen >= 50, "walked {seen} commands");
}

#[test]
fn tokens_plugins_and_events_on_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = baton(&data, &["token", "create", "--name", "root", "--role", "admin"]);
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("bt_") && out.trim().len() == 67, "{out}");
    let (ok, _, err) = baton(&data, &["token", "create", "--name", "x", "--role", "king"]);
    assert!(!ok);
    assert!(
        err.contains("role `king`: use admin, orchestrator, analyst, developer, viewer, connector"),
        "{err}"
    );

    // A secret is set with the hosts it may go to, from standard input, sealed at rest with a key
    // kept beside the data directory, not in it.
    let set_secret = |args: &[&str], value: &str| {
        let all: Vec<&str> = ["--data", data.to_str().unwrap(), "secret", "set"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        baton_with_input(&all, value)
    };
    let (ok, _, err) = set_secret(&["SENDGRID_API_KEY"], "SG.cli-secret-value");
    assert!(!ok && err.contains("--host"), "{err}");
    let (ok, _, err) =
        set_secret(&["SENDGRID_API_KEY", "--host", "https://api.sendgrid.com"], "SG.cli-secret-value");
    assert!(!ok && err.contains("is not a host name"), "{err}");
    let (ok, out, err) =
        set_secret(&["SENDGRID_API_KEY", "--host", "api.sendgrid.com"], "SG.cli-secret-value");
    assert!(ok, "{err}");
    assert_eq!(out, "secret SENDGRID_API_KEY set for api.sendgrid.com\n");
    assert!(dir.path().join("data.secret-key").exists(), "the key lives beside the data directory");
    {
        // Audited as the API audits it: the same action, target and detail; the actor is the
        // operating-system user.
        let storage = baton_tests::open_store(&data);
        let log = storage.audit_log(10).unwrap();
        let set = log.iter().find(|r| r.action == "secret_set").expect("the secret change is audited");
        assert_eq!(set.target, "SENDGRID_API_KEY");
        assert_eq!(set.detail, serde_json::json!({"hosts": ["api.sendgrid.com"]}));
        assert!(set.actor.starts_with("cli:"), "{}", set.actor);
        assert!(log.iter().any(|r| r.action == "token_created" && r.detail["role"] == "admin"));
    }

    let component = std::path::PathBuf::from(env!("BATON_FIXTURES_DIR")).join("seg_vip.wasm");
    let (ok, out, err) =
        baton(&data, &["plugin", "install", component.to_str().unwrap(), "--output", "json"]);
    assert!(ok, "{err}");
    let record: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(record["name"], "seg-vip");
    let (ok, out, _) = baton(&data, &["plugin", "list", "--output", "json"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().len(), 1);

    let csv = dir.path().join("events.csv");
    std::fs::write(
        &csv,
        "id,user_id,name,timestamp,plan\n\
         e1,ada,signed_up,2025-06-10T10:00:00Z,pro\n\
         e2,bob,signed_up,1749549600000,free\n\
         e3,cy,signed_up,yesterday,free\n\
         e1,ada,signed_up,2025-06-10T10:00:00Z,pro\n",
    )
    .unwrap();
    let rejected = dir.path().join("rejected.ndjson");
    let (ok, out, err) =
        baton(&data, &["events", "import", csv.to_str().unwrap(), "--errors", rejected.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("imported 4 rows: 2 stored, 1 duplicate, 1 rejected\n"), "{out}");
    let kept: Vec<serde_json::Value> = std::fs::read_to_string(&rejected)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0]["reason"].as_str().unwrap().starts_with("row 3: timestamp `yesterday`"), "{kept:?}");
    assert!(
        out.contains("rejected row 3: timestamp `yesterday` is neither ms since the epoch nor ISO 8601"),
        "{out}"
    );

    let (ok, out, err) = baton(&data, &["events", "export"]);
    assert!(ok, "{err}");
    let exported: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(exported.len(), 2);
    assert!(exported.iter().any(|e| e["properties"]["plan"] == "pro"));
    assert!(err.contains("exported 2 events"));
}

#[test]
fn serve_answers_refuses_a_second_process_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, token, _) = baton(&data, &["token", "create", "--name", "root", "--role", "admin"]);
    let token = token.trim().to_owned();

    let (mut server, base) = start_server(&data);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = baton_tests::http();
        assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().status().as_u16(), 200);
        let plugins = client.get(format!("{base}/v1/plugins")).bearer_auth(&token).send().await.unwrap();
        assert_eq!((plugins.status().as_u16(), plugins.text().await.unwrap()), (200, "[]".to_owned()));
    });

    let (ok, _, err) = baton(&data, &["plugin", "list"]);
    if baton_tests::on_postgres() {
        // A database admits any number of processes: this is a second worker.
        assert!(ok, "{err}");
    } else {
        assert!(!ok);
        assert!(err.contains("is in use by another Baton process"), "{err}");
    }

    // The same commands through the running server's API.
    let remote = |args: &[&str]| {
        let mut all = vec!["--server", base.as_str(), "--token", token.as_str()];
        all.extend_from_slice(args);
        baton(&data, &all)
    };
    let component = std::path::PathBuf::from(env!("BATON_FIXTURES_DIR")).join("seg_vip.wasm");
    let (ok, out, err) = remote(&["plugin", "install", component.to_str().unwrap(), "--output", "json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["name"], "seg-vip");
    let csv = dir.path().join("events.csv");
    std::fs::write(&csv, "id,user_id,name,timestamp\ne1,ada,page,1\ne2,,page,2\n").unwrap();
    let (ok, out, err) = remote(&["events", "import", csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("imported 2 rows: 1 stored, 0 duplicate, 1 rejected"), "{out}");
    let (ok, _, err) = remote(&["campaign", "show", "nope"]);
    assert!(!ok);
    assert!(err.contains("campaign_not_found: campaign `nope` does not exist"), "{err}");

    // An analyst exports while the server serves: streamed from the API, as NDJSON or CSV.
    let (ok, out, err) = remote(&["events", "export", "--format", "csv"]);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("id,profile,name,timestamp,campaign,properties"), "{out}");
    assert!(lines.next().unwrap().starts_with("e1,pr_"), "{out}");
    assert_eq!(lines.next(), None);
    let file = dir.path().join("profiles.ndjson");
    let (ok, _, err) = remote(&["export", "profiles", "--out", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let profile: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(profile["identities"][0]["value"], "ada");
    assert!(!file.with_extension("partial").exists());
    let (ok, _, err) = remote(&["export", "deliveries", "--campaign", "nope", "--out", "x.csv"]);
    assert!(!ok && err.contains("campaign_not_found"), "{err}");
    assert!(!dir.path().join("x.partial").exists() && !std::path::Path::new("x.csv").exists());
    let (ok, _, err) = remote(&["export", "everything"]);
    assert!(!ok && err.contains("use events, profiles or deliveries"), "{err}");

    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "serve exited with {status}");
    let (ok, out, err) = baton(&data, &["token", "list", "--output", "json"]);
    assert!(ok, "the directory is released after a clean stop: {err}");
    assert!(out.contains("\"root\""));
    // Each bulk export is on the audit trail, with what it carried.
    let exports: Vec<serde_json::Value> = baton_tests::open_store(&data)
        .audit_log(100)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "data_exported")
        .map(|r| r.detail)
        .collect();
    assert_eq!(exports.len(), 2, "{exports:?}");
    assert!(
        exports
            .contains(&serde_json::json!({"what": "events", "format": "csv", "rows": 1, "complete": true}))
    );
}

#[test]
fn plugin_test_runs_fixture_cases_and_reports_costs() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/segment-conditions/fixtures");
    let (ok, out, err) = baton(
        dir.path(),
        &["plugin", "test", "first-party:segment-conditions", "--fixtures", fixtures.to_str().unwrap()],
    );
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("PASS evaluate         01-vip-spenders.json  fuel "), "{out}");
    assert!(lines[0].contains(" / 5000000000 (") && lines[0].contains(" MiB / 128 MiB"), "{out}");
    assert!(lines[1].starts_with("PASS validate_config  02-invalid-tree.json"), "{out}");
    assert_eq!(lines.last().copied(), Some("2 passed, 0 failed"));

    // A wrong expectation fails the command and shows both sides.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("case.json"), r#"{"call": "evaluate", "config": {"attribute": "tier", "op": "exists"}, "subjects": [{"profile_id": "p"}], "expect": [{"member": true, "score": null}]}"#).unwrap();
    let (ok, out, err) = baton(
        dir.path(),
        &[
            "plugin",
            "test",
            "first-party:segment-conditions",
            "--fixtures",
            broken.to_str().unwrap(),
            "--fuel",
            "1000000",
        ],
    );
    assert!(!ok);
    assert!(
        out.contains("FAIL evaluate")
            && out.contains("/ 1000000 (")
            && out.contains("got:      [{\"member\":false,\"score\":null}]"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed") && err.contains("some cases failed"), "{out}{err}");
}

/// Splits one shell command line the way `sh` would for the commands the docs show: words,
/// single and double quotes, and `$(cat FILE)` (read relative to the repository root).
fn shell_words(line: &str, root: &std::path::Path) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|c| *c != '\''));
            }
            '"' => {
                in_word = true;
                let quoted: String = chars.by_ref().take_while(|c| *c != '"').collect();
                match quoted.strip_prefix("$(cat ").and_then(|q| q.strip_suffix(')')) {
                    Some(file) => word.push_str(&std::fs::read_to_string(root.join(file)).unwrap()),
                    None => word.push_str(&quoted),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// What a reader told to "note the hash" reads: the value of a top-level `key: value` line of a
/// command's output for people.
fn noted(out: &str, key: &str) -> Option<String> {
    out.lines().find_map(|line| Some(line.strip_prefix(key)?.strip_prefix(':')?.trim().to_owned()))
}

/// What a documented walkthrough left behind.
struct Walked {
    /// The hashes of the plugins it installed, in order.
    installed: Vec<String>,
    /// How many `sha256:...` placeholders it filled in.
    bound: usize,
}

/// Runs the `sh` blocks `blocks` (0-based) of the document at `doc` (relative to the repository
/// root), command by command as written, from the repository root. Filled in: `./data` and
/// `./baton-data` (a fresh folder), the server's port (any free one), the token and hashes the
/// document says to note (`bt_...`, `sha256:...`), `$VARIABLES` piped in with `printf`, and the
/// words in `files` (a file the reader is assumed to have).
fn walk(doc: &str, blocks: &[usize], files: &[(&str, String)]) -> Walked {
    let root = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut token, mut server_url, mut exported) = (String::new(), String::new(), false);
    let mut walked = Walked { installed: Vec::new(), bound: 0 };
    let mut server: Option<std::process::Child> = None;
    for block in blocks {
        let code = text.split("```sh\n").nth(block + 1).unwrap().split("```").next().unwrap();
        for line in code.replace("\\\n", " ").lines() {
            let command = line.split(" #").next().unwrap().trim();
            if command.is_empty() {
                continue;
            }
            let (stdin, command) = match command.split_once(" | ") {
                Some((printf, rest)) => {
                    assert!(printf.starts_with("printf %s \"$"), "{line}");
                    ("value-from-the-environment".to_owned(), rest)
                }
                None => (String::new(), command),
            };
            let mut words = shell_words(command, &root);
            if words[0] == "export" {
                for pair in &words[1..] {
                    let (name, _) = pair.split_once('=').unwrap();
                    // The store a document names stands for this walk's (on PostgreSQL, the only
                    // backend such a walk runs on), which every command gets anyway.
                    if name == "BATON_STORE" {
                        assert!(baton_tests::on_postgres(), "{line}");
                        continue;
                    }
                    assert!(["BATON_SERVER", "BATON_TOKEN"].contains(&name), "{line}");
                    exported = true;
                }
                continue;
            }
            assert_eq!(words[0], "baton", "{line}");
            for word in words.iter_mut() {
                match word.as_str() {
                    "./data" | "./baton-data" => {
                        *word = dir.path().join(&word[2..]).to_str().unwrap().to_owned()
                    }
                    "sha256:..." => {
                        *word = walked.installed[walked.bound].clone();
                        walked.bound += 1;
                    }
                    "bt_..." => *word = token.clone(),
                    w if w.starts_with("http://127.0.0.1:8080") => {
                        *word = w.replace("http://127.0.0.1:8080", &server_url)
                    }
                    w => {
                        if let Some((_, path)) = files.iter().find(|(name, _)| *name == w) {
                            *word = path.clone();
                        }
                    }
                }
            }
            if words.contains(&"serve".to_owned()) {
                // The server, in the background, on a free port instead of the document's.
                words.retain(|w| w != "&");
                if let Some(at) = words.iter().position(|w| w == "--addr") {
                    words.drain(at..at + 2);
                }
                let (child, url) = start_server_with(&root, dir.path(), &words[1..]);
                server_url = url;
                server = Some(child);
                continue;
            }
            let mut run = Command::new(baton_bin());
            run.current_dir(&root).args(&words[1..]);
            run.envs(baton_tests::store_url(dir.path()).map(|url| ("BATON_STORE", url)));
            if exported {
                run.env("BATON_SERVER", &server_url).env("BATON_TOKEN", &token);
            }
            let output = {
                use std::io::Write;
                let mut child =
                    run.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
                let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
                child.wait_with_output().unwrap()
            };
            let (out, err) =
                (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(output.status.success(), "`{line}` failed: {err}");
            let args = &words[1..];
            let is =
                |what: &[&str]| args.windows(what.len()).any(|w| w.iter().zip(what).all(|(a, b)| a == b));
            if is(&["token", "create"]) && !out.trim_start().starts_with('{') {
                token = out.trim().to_owned();
            }
            if is(&["plugin", "install"]) {
                walked.installed.push(noted(&out, "hash").unwrap_or_else(|| panic!("no hash in {out}")));
            }
            if is(&["campaign", "run"]) {
                assert!(noted(&out, "run").is_some() && out.lines().any(|l| l == "report:"), "{out}");
            }
        }
    }
    if let Some(mut server) = server {
        server.kill().unwrap();
        server.wait().unwrap();
    }
    walked
}

/// DEPLOYMENT.md's commands, on PostgreSQL: the sled suite has no database to point them at,
/// so there the test returns at once.
#[test]
fn the_deployment_guide_runs_as_written() {
    if !baton_tests::on_postgres() {
        return;
    }
    let walked = walk("DEPLOYMENT.md", &[0], &[]);
    assert_eq!(walked.installed.len(), 1);
}

/// The walkthrough in examples/README.md, command by command as written.
#[test]
fn the_examples_readme_walkthrough_runs_as_written() {
    let walked = walk("examples/README.md", &[0], &[]);
    assert_eq!((walked.installed.len(), walked.bound), (3, 3), "three plugins installed and bound");
}

/// sdk/GUIDE.md's walkthrough, each line run by `sh` as a reader would type it, in an empty
/// folder, with `baton` on PATH: a computed-trait plugin from `plugin new` to a trait on a
/// profile. Filled in: the hash the document says to note, and the Rust target folder (the
/// suite's shared one, so dependencies compile once).
#[test]
fn the_guide_walkthrough_runs_as_written() {
    let root = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let text = std::fs::read_to_string(root.join("sdk/GUIDE.md")).unwrap();
    let code = text.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = baton_bin().parent().unwrap().to_path_buf();
    let guests = bin_dir.parent().unwrap().join("wasm-guests");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut hash = String::new();
    for line in code.lines().filter(|l| !l.trim().is_empty()) {
        let command = line
            .replace("sha256:...", &hash)
            .replace("order-count/target/", &format!("{}/", guests.display()));
        let output = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(dir.path())
            // The guide's commands name `--data data`, where the test reads afterwards.
            .envs(baton_tests::store_url(&dir.path().join("data")).map(|url| ("BATON_STORE", url)))
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &guests)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "`{line}` failed:\n{out}\n{err}");
        if line.contains("plugin install") {
            hash = noted(&out, "hash").unwrap_or_else(|| panic!("no hash in {out}"));
        }
    }
    let storage = baton_tests::open_store(&dir.path().join("data"));
    let profiles: Vec<baton::Profile> = storage.scan_profiles().map(|p| p.unwrap()).collect();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].computed.get("event_count"), Some(&serde_json::json!(1)), "{:?}", profiles[0]);
}

/// `baton demo` without `--dir`, as a first-time user runs it: the report, the hint that the
/// store was temporary, and nothing left behind, not even the secret key file that sits beside a
/// data directory (it used to stay in the temporary directory's parent).
#[test]
fn a_temporary_demo_reports_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(baton_tests::baton_bin())
        .env("TMPDIR", tmp.path())
        .args(["demo", "--profiles", "60"])
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.starts_with("Baton demo: 60 profiles, "), "{out}");
    assert!(err.contains("The store was temporary; pass --dir to keep it"), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// README.md's "running Baton for real" and its security advice, as written (the quickstart's
/// `cargo` commands are what the suite and `demo.rs` already run).
#[test]
fn the_readme_commands_run_as_written() {
    let rule = std::path::PathBuf::from(env!("BATON_FIXTURES_DIR")).join("seg_vip.wasm");
    let walked = walk("README.md", &[1, 2], &[("my_rule.wasm", rule.to_str().unwrap().to_owned())]);
    assert_eq!(walked.installed.len(), 1);
}

/// README.md's measurement commands, as written: results and a daily series from the demo's store.
#[test]
fn the_readme_measurement_commands_run_as_written() {
    let walked = walk("README.md", &[3], &[]);
    assert_eq!(walked.installed.len(), 0);
}

/// README.md's saved-segment commands, as written: a rule segment over the demo's orders and a
/// manual one.
#[test]
fn the_readme_segment_commands_run_as_written() {
    let walked = walk("README.md", &[4], &[]);
    assert_eq!((walked.installed.len(), walked.bound), (1, 1));
}

/// README.md's journey commands, as written, over the demo's onboarding journey.
#[test]
fn the_readme_journey_commands_run_as_written() {
    let walked = walk("README.md", &[5], &[]);
    assert_eq!(walked.installed.len(), 0);
}

/// README.md's template commands, as written: content saved, published and shown, and a demo
/// campaign rendered for one person.
#[test]
fn the_readme_template_commands_run_as_written() {
    let walked = walk("README.md", &[6], &[]);
    assert_eq!(walked.installed.len(), 0);
}

/// Starts `baton serve` on `data` on a free loopback port; returns the process and its base URL.
fn start_server(data: &std::path::Path) -> (std::process::Child, String) {
    start_server_with(data, data, &[])
}

/// The same with more arguments for `baton` (for example `serve`'s own, from a document).
/// `store` is the directory whose store the server is on (on PostgreSQL, where the data
/// directory is only named in `args`).
fn start_server_with(
    data: &std::path::Path,
    store: &std::path::Path,
    args: &[String],
) -> (std::process::Child, String) {
    let mut command = Command::new(baton_bin());
    command.envs(baton_tests::store_url(store).map(|url| ("BATON_STORE", url)));
    if args.is_empty() {
        command.args(["--data", data.to_str().unwrap(), "serve"]);
    } else {
        command.current_dir(data).args(args);
    }
    let mut server =
        command.args(["--addr", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut first_line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let base = first_line.trim().strip_prefix("baton listening on ").unwrap().to_owned();
    (server, base)
}

/// Runs `baton` with `args` and `stdin`; returns (success, stdout, stderr).
fn baton_with_input(args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    // A command on a data directory runs on this suite's backend.
    let data = args.iter().position(|a| *a == "--data").and_then(|at| args.get(at + 1));
    let mut child = Command::new(baton_bin())
        .args(args)
        .envs(
            data.and_then(|d| baton_tests::store_url(std::path::Path::new(d)))
                .map(|url| ("BATON_STORE", url)),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command refused at argument parsing may exit before reading: a closed pipe is its answer.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The audit trail of a data directory, oldest first, as (action, target, detail), with the ids
/// each side made (tokens, profiles: random or counted) replaced by what they stand for.
fn audit_trail(data: &std::path::Path, ids: &[(&str, &str)]) -> Vec<(String, String, serde_json::Value)> {
    let storage = baton_tests::open_store(data);
    let mut log: Vec<_> = storage
        .audit_log(200)
        .unwrap()
        .into_iter()
        .map(|r| {
            let target = match ids.iter().find(|(id, _)| *id == r.target) {
                Some((_, stands_for)) => (*stands_for).to_owned(),
                None => r.target,
            };
            (r.at, r.action, target, r.detail)
        })
        .collect();
    log.sort_by_key(|(at, ..)| *at);
    log.into_iter().map(|(_, action, target, detail)| (action, target, detail)).collect()
}

/// The one profile a data directory holds (the CLI cannot look one up by user id yet).
fn only_profile(data: &std::path::Path) -> String {
    let storage = baton_tests::open_store(data);
    let profiles: Vec<_> = storage.scan_profiles().map(|p| p.unwrap().id.to_string()).collect();
    assert_eq!(profiles.len(), 1, "{profiles:?}");
    profiles[0].clone()
}

/// Every action the CLI offers, taken through the CLI on a data directory and through the API of
/// a running server, leaves the same audit records (the actor aside): plugins, traits, campaigns
/// and their bindings, runs and replays, secrets, tokens, and a customer's profile from import to
/// erasure.
#[test]
fn actions_are_audited_alike_from_the_cli_and_the_api() {
    let component = std::path::PathBuf::from(env!("BATON_FIXTURES_DIR")).join("seg_vip.wasm");
    let component = component.to_str().unwrap();
    let hash = {
        let dir = tempfile::tempdir().unwrap();
        let (ok, out, err) =
            baton(&dir.path().join("d"), &["plugin", "install", component, "--output", "json"]);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["hash"].as_str().unwrap().to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let campaign = root.join("examples/scenario/win-back.campaign.json");
    let campaign = campaign.to_str().unwrap();
    let renamed = dir.path().join("renamed.json");
    let mut definition: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(campaign).unwrap()).unwrap();
    definition["name"] = "Win back, renamed".into();
    std::fs::write(&renamed, definition.to_string()).unwrap();
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        r#"{"id": "e1", "user_id": "ada", "name": "signed_up", "timestamp": 1750000000000, "properties": {}}"#,
    )
    .unwrap();

    // Every answer here is read as JSON.
    let run = |prefix: &[&str], args: &[&str], stdin: &str| {
        let all: Vec<&str> = prefix.iter().chain(args).chain(&["--output", "json"]).copied().collect();
        let (ok, out, err) = baton_with_input(&all, stdin);
        assert!(ok, "{all:?}: {err}");
        out
    };
    // The first half: everything but the profile. Returns the id of the token it made.
    let first_half = |prefix: &[&str]| -> String {
        let run = |args: &[&str], stdin: &str| run(prefix, args, stdin);
        run(&["plugin", "install", component], "");
        run(&["plugin", "remove", &hash], "");
        let scorer: serde_json::Value =
            serde_json::from_str(&run(&["plugin", "install", "first-party:trait-lead-score"], "")).unwrap();
        let scorer = scorer["hash"].as_str().unwrap().to_owned();
        run(&["trait", "bind", "lead-score", &scorer, "--config", r#"{"events": {"page": 1}}"#], "");
        let listed: Vec<serde_json::Value> = serde_json::from_str(&run(&["trait", "list"], "")).unwrap();
        assert_eq!(listed.len(), 1);
        run(&["trait", "recompute", "lead-score"], "");
        run(&["trait", "unbind", "lead-score"], "");
        run(&["secret", "set", "API_KEY", "--host", "api.example.com"], "sk-1\n");
        run(&["secret", "delete", "API_KEY"], "");
        let twilio: serde_json::Value =
            serde_json::from_str(&run(&["plugin", "install", "first-party:channel-twilio-sms"], "")).unwrap();
        let twilio = twilio["hash"].as_str().unwrap().to_owned();
        run(&["secret", "set", "TWILIO_AUTH_TOKEN", "--host", "api.twilio.com"], "tw-1\n");
        let endpoint = ["feedback-endpoint", "set", "sms", &twilio, "--grant-secret", "TWILIO_AUTH_TOKEN"];
        run(&endpoint, "");
        let listed: Vec<serde_json::Value> =
            serde_json::from_str(&run(&["feedback-endpoint", "list"], "")).unwrap();
        assert_eq!(listed.len(), 1);
        run(&["feedback-endpoint", "delete", "sms"], "");
        run(&["token", "create", "--name", "dash", "--role", "viewer"], "");
        let listed: Vec<serde_json::Value> = serde_json::from_str(&run(&["token", "list"], "")).unwrap();
        let dash = listed.iter().find(|t| t["name"] == "dash").unwrap()["id"].as_str().unwrap().to_owned();
        run(&["token", "revoke", &dash], "");

        run(&["plugin", "install", component], "");
        let webhook: serde_json::Value =
            serde_json::from_str(&run(&["plugin", "install", "first-party:channel-webhook"], "")).unwrap();
        let webhook = webhook["hash"].as_str().unwrap().to_owned();
        run(&["campaign", "create", campaign], "");
        run(&["campaign", "update", renamed.to_str().unwrap()], "");
        run(&["campaign", "bind", "win-back", "segment", "--plugin", &hash], "");
        let url = r#"{"url": "https://hooks.example.com/send"}"#;
        let channel = ["--plugin", &webhook, "--config", url, "--grant-host", "hooks.example.com"];
        run(&[&["campaign", "bind", "win-back", "channel"][..], &channel[..]].concat(), "");
        run(&["campaign", "activate", "win-back"], "");
        run(&["campaign", "run", "win-back", "--run", "r1"], "");
        run(&["campaign", "pause", "win-back"], "");
        run(&["campaign", "unbind", "win-back", "segment"], "");
        let (ok, _, err) =
            baton_with_input(&[prefix, &["campaign", "unbind", "win-back", "segment"]].concat(), "");
        assert!(!ok && err.contains("campaign `win-back` has no segment binding"), "{err}");
        let replayed: serde_json::Value =
            serde_json::from_str(&run(&["campaign", "replay", "win-back"], "")).unwrap();
        assert_eq!(replayed, serde_json::json!({ "replayed": 0 }));
        run(&["campaign", "end", "win-back"], "");
        run(&["events", "import", events.to_str().unwrap()], "");
        dash
    };
    // The second half: the customer the import made.
    let second_half = |prefix: &[&str], profile: &str| {
        let run = |args: &[&str]| run(prefix, args, "");
        let updated: serde_json::Value = serde_json::from_str(&run(&[
            "profile",
            "update",
            profile,
            "--consent",
            "email:marketing=granted",
            "--suppress",
            "sms=manual",
            "--timezone",
            "Europe/Paris",
        ]))
        .unwrap();
        assert_eq!(updated["timezone"], "Europe/Paris");
        assert_eq!(updated["suppressions"]["sms"]["reason"], "manual");
        let shown: serde_json::Value = serde_json::from_str(&run(&["profile", "show", profile])).unwrap();
        assert_eq!(shown, updated);
        run(&["profile", "update", profile, "--unsuppress", "sms"]);
        let export: serde_json::Value = serde_json::from_str(&run(&["profile", "export", profile])).unwrap();
        assert_eq!(export["events"].as_array().unwrap().len(), 1);
        let (ok, _, err) = baton_with_input(&[prefix, &["profile", "erase", profile]].concat(), "");
        assert!(!ok && err.contains("add --yes to confirm"), "{err}");
        run(&["profile", "erase", profile, "--yes"]);
    };

    let local = dir.path().join("local");
    let local_args = ["--data", local.to_str().unwrap()];
    let local_token = first_half(&local_args);
    let local_profile = only_profile(&local);
    second_half(&local_args, &local_profile);

    let remote = dir.path().join("remote");
    let (_, root_token, _) = baton(&remote, &["token", "create", "--name", "root", "--role", "admin"]);
    let root_token = root_token.trim().to_owned();
    let (mut server, base) = start_server(&remote);
    let remote_token = first_half(&["--server", &base, "--token", &root_token]);
    server.kill().unwrap();
    server.wait().unwrap();
    let remote_profile = only_profile(&remote);
    let (mut server, base) = start_server(&remote);
    second_half(&["--server", &base, "--token", &root_token], &remote_profile);
    server.kill().unwrap();
    server.wait().unwrap();

    let root_id = baton_tests::open_store(&remote).tokens().unwrap()[0].id.clone();
    let mut remote_trail =
        audit_trail(&remote, &[(remote_token.as_str(), "<token>"), (remote_profile.as_str(), "<profile>")]);
    // The root token was made before the server, locally: not one of the compared actions.
    remote_trail.retain(|(action, target, _)| !(action == "token_created" && *target == root_id));
    let local_trail =
        audit_trail(&local, &[(local_token.as_str(), "<token>"), (local_profile.as_str(), "<profile>")]);
    let actions: Vec<&str> = local_trail.iter().map(|(a, ..)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "plugin_installed",
            "plugin_removed",
            "plugin_installed",
            "trait_bound",
            "traits_recomputed",
            "trait_unbound",
            "secret_set",
            "secret_deleted",
            "plugin_installed",
            "secret_set",
            "feedback_endpoint_set",
            "feedback_endpoint_deleted",
            "token_created",
            "token_revoked",
            "plugin_installed",
            "plugin_installed",
            "campaign_created",
            "campaign_updated",
            "plugin_bound",
            "plugin_bound",
            "campaign_state_changed",
            "campaign_run",
            "campaign_state_changed",
            "plugin_unbound",
            "dead_letters_replayed",
            "campaign_state_changed",
            "profile_updated",
            "profile_updated",
            "profile_exported",
            "profile_erased",
        ]
    );
    assert_eq!(local_trail, remote_trail);
}

/// An import is history unless it says otherwise: without `--fire-triggers` no campaign answers
/// it (a year of sign-ups must not send a year of welcome emails); with it, a triggered campaign
/// answers as it answers a live event.
#[test]
fn an_import_fires_triggers_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let install = |what: &str| -> String {
        let (ok, out, err) = baton(&data, &["plugin", "install", what, "--output", "json"]);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["hash"].as_str().unwrap().to_owned()
    };
    let conditions = install("first-party:segment-conditions");
    let webhook = install("first-party:channel-webhook");
    let campaign = dir.path().join("welcome.json");
    let mut definition = serde_json::to_value(baton_tests::welcome_campaign()).unwrap();
    definition["transactional"] = true.into();
    definition["channel"] = "webhook".into();
    std::fs::write(&campaign, definition.to_string()).unwrap();
    for args in [
        &["campaign", "create", campaign.to_str().unwrap()][..],
        &[
            "campaign",
            "bind",
            "welcome",
            "segment",
            "--plugin",
            &conditions,
            "--config",
            r#"{"bucket": {"percent": 100}}"#,
        ],
        &[
            "campaign",
            "bind",
            "welcome",
            "channel",
            "--plugin",
            &webhook,
            "--config",
            r#"{"url": "https://hooks.example.com/send"}"#,
            "--grant-host",
            "hooks.example.com",
        ],
        &["campaign", "activate", "welcome"],
    ] {
        let (ok, _, err) = baton(&data, args);
        assert!(ok, "{args:?}: {err}");
    }
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        concat!(
            r#"{"id": "e1", "user_id": "ada", "name": "signed_up", "timestamp": 1750000000000, "properties": {"email": "ada@example.com"}}"#,
            "\n",
            r#"{"id": "e2", "user_id": "ada", "name": "page", "timestamp": 1750000000001, "properties": {}}"#,
            "\n"
        ),
    )
    .unwrap();
    let (ok, _, err) = baton(&data, &["events", "import", events.to_str().unwrap()]);
    assert!(ok, "{err}");
    {
        let storage = baton_tests::open_store(&data);
        assert_eq!((storage.pending_trigger_count(), storage.outbox_len()), (0, 0), "history sends nothing");
        assert_eq!(storage.event_count(), 2);
    }
    let replayed = events.with_extension("again.ndjson");
    std::fs::write(&replayed, std::fs::read_to_string(&events).unwrap().replace("\"e1\"", "\"e3\"")).unwrap();
    let (ok, _, err) = baton(&data, &["events", "import", replayed.to_str().unwrap(), "--fire-triggers"]);
    assert!(ok, "{err}");
    let storage = baton_tests::open_store(&data);
    assert_eq!(storage.pending_trigger_count(), 0, "the import drained what it queued");
    assert_eq!(storage.outbox_len(), 1, "the sign-up queued one welcome send");
}

/// A data-protection request names a customer by email or user id, not by Baton's id: the CLI
/// finds, exports and erases them that way, through a server and on a data directory alike.
#[test]
fn gdpr_requests_by_email_and_user_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (_, admin, _) = baton(&data, &["token", "create", "--name", "dpo", "--role", "admin"]);
    let admin = admin.trim().to_owned();
    let (mut server, base) = start_server(&data);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let identify = |user: &str, email: &str| {
        let body = serde_json::json!({"userId": user, "traits": {"email": email}});
        let sent = runtime.block_on(
            baton_tests::http()
                .post(format!("{base}/v1/identify"))
                .basic_auth(&admin, Some(""))
                .json(&body)
                .send(),
        );
        assert_eq!(sent.unwrap().status(), 200);
    };
    identify("ada", "Ada@Example.com");
    identify("ada-work", "ada@example.com");
    identify("bob", "bob@example.com");
    let remote = |args: &[&str]| {
        let all: Vec<&str> = ["--server", base.as_str(), "--token", admin.as_str(), "--output", "json"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        baton_with_input(&all, "")
    };
    let (ok, out, err) = remote(&["profile", "show", "--email", "ADA@example.com"]);
    assert!(ok, "{err}");
    let found: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(found.len(), 2, "two accounts share the address: {out}");
    let (ok, out, err) = remote(&["profile", "export", "--user-id", "bob"]);
    assert!(ok, "{err}");
    let export: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(export[0]["profile"]["attributes"]["email"], "bob@example.com");
    let (ok, _, err) = remote(&["profile", "erase", "--email", "ada@example.com"]);
    assert!(!ok && err.contains("erasing email `ada@example.com` deletes it"), "{err}");
    let (ok, out, err) = remote(&["profile", "erase", "--email", "ada@example.com", "--yes"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap().len(), 2);
    let (ok, _, err) = remote(&["profile", "show", "--email", "ada@example.com"]);
    assert!(!ok && err.contains("no profile is known by email `ada@example.com`"), "{err}");
    server.kill().unwrap();
    server.wait().unwrap();

    // The same on the data directory; the erased customer's email is gone from the index too.
    let (ok, out, err) = baton(&data, &["profile", "erase", "--user-id", "bob", "--yes", "--output", "json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().len(), 1);
    let (ok, _, err) = baton(&data, &["profile", "show", "--user-id", "bob"]);
    assert!(!ok && err.contains("no profile is known by user id `bob`"), "{err}");
    let (ok, _, err) = baton(&data, &["profile", "show", "--user-id", "bob", "--email", "x@example.com"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}

/// The customers a company already has, from a CSV export of its CRM (locally) and NDJSON
/// (through a server): traits typed, consents with the import as their source, suppressions, time
/// zones; a bad row refused with its reason, kept in the errors file, the others imported.
#[test]
fn profiles_import_from_csv_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let csv = dir.path().join("crm.csv");
    std::fs::write(
        &csv,
        "user_id,email,plan,ltv,vip,consent:email:marketing,suppress:sms,timezone\n\
         ada,ada@example.com,pro,120.5,true,granted,manual,Europe/Paris\n\
         ,nobody@example.com,free,1,false,,,\n\
         bob,bob@example.com,free,7,false,maybe,,\n",
    )
    .unwrap();
    let errors = dir.path().join("rejected.ndjson");
    let (ok, out, err) =
        baton(&data, &["import", "profiles", csv.to_str().unwrap(), "--errors", errors.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("imported 3 rows: 1 stored, 0 duplicate, 2 rejected\n"), "{out}");
    let kept = std::fs::read_to_string(&errors).unwrap();
    assert!(
        kept.contains("row 3: column `consent:email:marketing`: `maybe` is not granted or denied"),
        "{kept}"
    );
    assert!(kept.contains("a profile row needs a user_id or an anonymous_id"), "{kept}");
    let (ok, out, err) = baton(&data, &["profile", "show", "--user-id", "ada", "--output", "json"]);
    assert!(ok, "{err}");
    let ada: serde_json::Value = serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap().remove(0);
    assert_eq!(
        (&ada["attributes"]["plan"], &ada["attributes"]["ltv"], &ada["attributes"]["vip"]),
        (&"pro".into(), &120.5.into(), &true.into())
    );
    assert_eq!(ada["consents"]["email:marketing"]["state"], "granted");
    assert!(ada["consent_history"][0]["source"].as_str().unwrap().starts_with("import:cli:"), "{ada}");
    assert_eq!(ada["suppressions"]["sms"]["reason"], "manual");
    assert_eq!(ada["timezone"], "Europe/Paris");

    let (_, admin, _) = baton(&data, &["token", "create", "--name", "ops", "--role", "admin"]);
    let (mut server, base) = start_server(&data);
    let rows = dir.path().join("more.ndjson");
    std::fs::write(
        &rows,
        r#"{"user_id": "cy", "traits": {"email": "cy@example.com", "email_opt_in": true}}"#,
    )
    .unwrap();
    let remote = |args: &[&str]| {
        let all: Vec<&str> =
            ["--server", base.as_str(), "--token", admin.trim()].iter().chain(args).copied().collect();
        baton_with_input(&all, "")
    };
    let (ok, out, err) = remote(&["import", "profiles", rows.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("imported 1 rows: 1 stored, 0 duplicate, 0 rejected"), "{out}");
    let (ok, out, err) = remote(&["profile", "show", "--email", "cy@example.com", "--output", "json"]);
    assert!(ok, "{err}");
    let cy: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(cy[0]["consents"]["email:marketing"]["state"], "granted", "the opt-in trait, mapped");
    let (ok, _, err) = remote(&["import", "profiles", rows.to_str().unwrap(), "--fire-triggers"]);
    assert!(!ok && err.contains("--fire-triggers is for events"), "{err}");
    server.kill().unwrap();
    server.wait().unwrap();
    let imports = baton_tests::open_store(&data).audit_log(50).unwrap();
    let imports: Vec<_> =
        imports.iter().filter(|r| r.action == "profiles_imported").map(|r| &r.detail).collect();
    assert_eq!(imports.len(), 2, "{imports:?}");
}

/// `baton ... | head` closes the pipe before Baton writes: the command ends quietly, as Unix
/// tools do, instead of panicking with a backtrace, whether it prints a table or JSON.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (made, _, err) = baton(&data, &["segment", "save", "press", "--manual"]);
    assert!(made, "{err}");
    let commands: [&[&str]; 4] = [
        &["plugin", "list", "--output", "table"],
        &["plugin", "list", "--output", "json"],
        &["segment", "members", "press", "--format", "csv"],
        &["segment", "members", "press", "--format", "ndjson"],
    ];
    for command in commands {
        let format = command.join(" ");
        let mut child = baton_tests::baton_command(&data)
            .args(command)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{format}: {stderr}");
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
    }
}

/// Runs `baton` with `args` on `data` as a script would, its output piped, with `env` set and
/// no colour forced or refused by the environment (so that what is checked is Baton's own
/// choice); returns (exit code, stdout, stderr).
fn piped(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = baton_tests::baton_command(data)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A person gets tables and `key: value` lines; a script that asks with `--output json` gets the
/// records as JSON, exactly as stored. A server's answer prints as the same command does on a
/// data directory.
#[test]
fn people_get_tables_and_scripts_get_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let run = |args: &[&str]| {
        let (code, out, err) = piped(&data, args, &[]);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out
    };
    assert_eq!(run(&["campaign", "list"]), "(none)\n");
    assert_eq!(run(&["campaign", "list", "--output", "json"]), "[]\n");

    let root = run(&["token", "create", "--name", "root", "--role", "admin"]);
    run(&["token", "create", "--name", "ingest", "--role", "connector"]);
    let records = baton_tests::open_store(&data).tokens().unwrap();
    let ingest = records.iter().find(|t| t.name == "ingest").unwrap();
    assert_eq!(run(&["token", "revoke", &ingest.id]), format!("revoked {}\n", ingest.id));
    let records = baton_tests::open_store(&data).tokens().unwrap();
    let json: serde_json::Value = serde_json::from_str(&run(&["token", "list", "--output", "json"])).unwrap();
    assert_eq!(json, serde_json::to_value(&records).unwrap());
    let mut table = String::from("ID            NAME    ROLE       CREATED_AT     REVOKED_AT\n");
    for token in &records {
        let role = if token.name == "root" { "admin" } else { "connector" };
        let revoked = token.revoked_at.map_or("-".to_owned(), |at| at.to_string());
        table.push_str(&format!(
            "{}  {:<6}  {role:<9}  {}  {revoked}\n",
            token.id, token.name, token.created_at
        ));
    }
    assert_eq!(run(&["token", "list"]), table);

    // One record is `key: value` lines, the same data as the JSON.
    let component = std::path::PathBuf::from(env!("BATON_FIXTURES_DIR")).join("seg_vip.wasm");
    let installed = run(&["plugin", "install", component.to_str().unwrap()]);
    let plugin = baton_tests::open_store(&data).plugins().unwrap().remove(0);
    let (hash, size) = (plugin.hash.to_string(), plugin.size);
    assert_eq!(
        installed,
        format!(
            "hash:            {hash}\n\
             name:            seg-vip\n\
             version:         1.0.0\n\
             kind:            segment-rule\n\
             contract:        0.1.0\n\
             description:     Profiles of one tier.\n\
             config_schema:   {{\"type\":\"object\",\"properties\":{{\"tier\":{{\"type\":\"string\"}}}}}}\n\
             attributes:      tier, lifetime_value\n\
             events:          -\n\
             event_window_ms: -\n\
             allowed_hosts:   -\n\
             secrets:         -\n\
             provides:        -\n\
             size:            {size}\n\
             quarantine:      -\n"
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["plugin", "list", "--output", "json"])).unwrap();
    assert_eq!(json, serde_json::to_value([&plugin]).unwrap());
    let header = "HASH                                                                     NAME     VERSION  KIND          \
                  CONTRACT  DESCRIPTION            CONFIG_SCHEMA                                              \
                  ATTRIBUTES            EVENTS  EVENT_WINDOW_MS  ALLOWED_HOSTS  SECRETS  PROVIDES  SIZE    QUARANTINE";
    let size_cell = format!("{size:<6}");
    let row = format!(
        "{hash}  seg-vip  1.0.0    segment-rule  0.1.0     Profiles of one tier.  \
         {{\"type\":\"object\",\"properties\":{{\"tier\":{{\"type\":\"string\"}}}}}}  \
         tier, lifetime_value  -       -                -              -        -         {size_cell}  -"
    );
    assert_eq!(run(&["plugin", "list"]), format!("{header}\n{row}\n"));

    // Nested values are compact JSON in a table, and indented under their key in a record.
    let campaign = dir.path().join("welcome.json");
    std::fs::write(&campaign, serde_json::to_string(&baton_tests::welcome_campaign()).unwrap()).unwrap();
    run(&["campaign", "create", campaign.to_str().unwrap()]);
    let stored = baton_tests::open_store(&data).campaigns().unwrap().remove(0);
    let at = stored.created_at;
    assert_eq!(
        run(&["campaign", "list"]),
        format!(
            "ID       NAME     STATE  TRIGGER                                           CHANNEL  PURPOSE    \
             TRANSACTIONAL  PRIORITY  MESSAGE                                                                                   \
             EXPERIMENT  CONVERSION  AUDIENCE  RATE_LIMIT_PER_MINUTE  CREATED_AT     UPDATED_AT\n\
             welcome  Welcome  draft  {{\"type\":\"event\",\"event\":\"signed_up\",\"filter\":{{}}}}  email    marketing  \
             false          0         {{\"subject\":\"Welcome {{{{first_name}}}}\",\"body\":\"Hello {{{{first_name}}}}\",\"html\":null,\"data\":{{}}}}  \
             -           -           -         -                      {at}  {at}\n"
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&["campaign", "list", "--output", "json"])).unwrap();
    assert_eq!(json, serde_json::to_value([&stored]).unwrap());
    let shown = run(&["campaign", "show", "welcome"]);
    assert!(
        shown.starts_with(
            "campaign:\n\
             \x20 id:                    welcome\n\
             \x20 name:                  Welcome\n\
             \x20 state:                 draft\n\
             \x20 trigger:\n\
             \x20   type:   event\n\
             \x20   event:  signed_up\n\
             \x20   filter: -\n\
             \x20 channel:               email\n"
        ),
        "{shown}"
    );
    assert!(shown.ends_with("\nbindings: -\n"), "{shown}");

    // Through a server, the same commands print the same cells and `key: value` lines. (Columns
    // come in the order the server writes its keys, rows in the order it lists them.)
    let (tokens_here, plugins_here, shown_here) = (run(&["token", "list"]), run(&["plugin", "list"]), shown);
    let (mut server, base) = start_server(&data);
    let remote = |args: &[&str]| {
        let prefix = ["--server", base.as_str(), "--token", root.trim()];
        run(&prefix.iter().chain(args).copied().collect::<Vec<_>>())
    };
    assert_eq!(table_cells(&remote(&["token", "list"])), table_cells(&tokens_here));
    assert_eq!(table_cells(&remote(&["plugin", "list"])), table_cells(&plugins_here));
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&remote(&["campaign", "show", "welcome"])), sorted(&shown_here));
    let json: serde_json::Value =
        serde_json::from_str(&remote(&["campaign", "list", "--output", "json"])).unwrap();
    assert_eq!(json, serde_json::to_value([&stored]).unwrap());
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The rows of a table printed for people, each as (column, cell) pairs, in a canonical order
/// whatever the order of the columns and rows: a cell starts where its column's header does.
fn table_cells(table: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    let columns: Vec<(usize, &str)> = header
        .split_whitespace()
        .map(|name| (name.as_ptr() as usize - header.as_ptr() as usize, name))
        .collect();
    lines
        .map(|line| {
            let cell = |i: usize| {
                let end = columns.get(i + 1).map_or(line.len(), |(start, _)| *start).min(line.len());
                line.get(columns[i].0.min(end)..end).unwrap().trim().to_owned()
            };
            columns.iter().enumerate().map(|(i, (_, name))| ((*name).to_owned(), cell(i))).collect()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// What `baton` writes to a pipe or a file carries no terminal escape codes: not in logs, not
/// from a progress bar, not in a table, not in clap's messages, and not from data that holds
/// them (a campaign named with an escape sequence shows it escaped).
#[test]
fn piped_output_has_no_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let events = dir.path().join("events.csv");
    std::fs::write(&events, "id,user_id,name,timestamp\ne1,ada,page,1\ne2,bob,page,yesterday\n").unwrap();
    let profiles = dir.path().join("crm.csv");
    std::fs::write(&profiles, "user_id,plan\nada,pro\n,free\n").unwrap();
    let campaign = dir.path().join("sale.json");
    let mut sale = baton_tests::welcome_campaign();
    (sale.id, sale.name) = ("sale".into(), "Sale \u{1b}[2J\u{1b}[31mnow".into());
    std::fs::write(&campaign, serde_json::to_string(&sale).unwrap()).unwrap();
    let info = [("RUST_LOG", "info")];
    let commands: [(&[&str], &[(&str, &str)], &str); 10] = [
        (&["plugin", "install", "first-party:segment-conditions"], &info, "Plugin installed."),
        (&["plugin", "list"], &info, "segment-conditions"),
        (&["events", "import", events.to_str().unwrap()], &info, "1 stored, 0 duplicate, 1 rejected"),
        (&["import", "profiles", profiles.to_str().unwrap()], &info, "1 stored, 0 duplicate, 1 rejected"),
        (&["campaign", "create", campaign.to_str().unwrap()], &info, "Campaign created."),
        (&["campaign", "list"], &[], "Sale \\u{1b}[2J\\u{1b}[31mnow"),
        (&["campaign", "show", "sale", "--output", "json"], &[], "Sale \\u001b[2J\\u001b[31mnow"),
        (&["campaign", "show", "nope"], &[], "campaign `nope` does not exist"),
        (&["campaign", "frobnicate"], &[], "unrecognized subcommand 'frobnicate'"),
        (&["--help"], &[], "Exit codes:"),
    ];
    for (args, env, expected) in commands {
        let (_, out, err) = piped(&data, args, env);
        assert!(out.contains(expected) || err.contains(expected), "{args:?}: {expected:?} in\n{out}\n{err}");
        assert!(!out.contains('\x1b'), "{args:?} wrote an escape code to stdout:\n{out}");
        assert!(!err.contains('\x1b'), "{args:?} wrote an escape code to stderr:\n{err}");
    }
}

/// The exit codes `baton --help` and README.md document: 0 success, 1 a command that failed (with
/// what to fix on standard error), 2 a usage error. An import that finishes exits 0 even when it
/// rejected rows.
#[test]
fn exit_codes_are_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (code, out, _) = piped(&data, &["--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(
            "Exit codes:\n  0  Success.\n  1  The command failed; the message on standard error says what to fix."
        ) && out.contains("\n  2  Usage error: an unknown command or option, or a missing or invalid argument."),
        "{out}"
    );

    assert_eq!(piped(&data, &["campaign", "list"], &[]).0, Some(0));
    let (code, out, err) = piped(&data, &["campaign", "show", "nope"], &[]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(err.lines().last(), Some("error: campaign `nope` does not exist"), "{err}");
    let (code, _, err) = piped(&data, &["token", "create", "--name", "x", "--role", "king"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("role `king`: use admin, orchestrator"), "{err}");

    for usage in [
        &["campaign", "frobnicate"][..],
        &["campaign", "show"],
        &["campaign", "list", "--output", "yaml"],
        &["token", "create", "--name", "x"],
        &[],
    ] {
        let (code, out, err) = piped(&data, usage, &[]);
        assert_eq!(code, Some(2), "{usage:?}: {err}");
        assert!(out.is_empty() && err.contains("--help"), "{usage:?}: {out}{err}");
    }

    let events = dir.path().join("events.csv");
    std::fs::write(&events, "id,user_id,name,timestamp\ne1,ada,page,1\ne2,bob,page,yesterday\n").unwrap();
    let (code, out, err) = piped(&data, &["events", "import", events.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("imported 2 rows: 1 stored, 0 duplicate, 1 rejected\n"), "{out}");
    let missing = dir.path().join("missing.csv");
    let (code, _, err) = piped(&data, &["events", "import", missing.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("opening ") && err.contains("missing.csv"), "{err}");
}

/// A store URL a first-time user gets wrong, or an attacker writes, is refused with what to fix,
/// and no message repeats the password: an unreachable server (named by host, port, database
/// and schema, with the cause), a schema name carrying SQL, a libpq option with a bad value,
/// and a pool too small to hold the writer lock while reading. Runs on both suites: the URL
/// names its own server.
#[test]
fn a_wrong_store_url_says_what_to_fix_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let run = |store: &str, config: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(baton_tests::baton_bin());
        command.arg("--data").arg(&data).env("BATON_STORE", store).env_remove("BATON_CONFIG");
        if let Some(config) = config {
            command.arg("--config-file").arg(config);
        }
        let output = command.args(["campaign", "list"]).output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{store}: {err}");
        assert!(!err.contains("s3cret") && !err.contains("panicked"), "{store}: {err}");
        assert!(output.stdout.is_empty(), "{store}");
        err
    };
    let err = run(&format!("postgres://baton:s3cret@127.0.0.1:{port}/marketing?schema=prod"), None);
    assert!(
        err.contains(&format!("connecting to postgres://127.0.0.1:{port}/marketing (schema prod)"))
            && err.contains("Connection refused"),
        "{err}"
    );
    let err = run("postgres://baton:s3cret@127.0.0.1/marketing?schema=x;drop%20table%20baton.events", None);
    assert!(err.contains("use 1 to 63 lowercase letters, digits and underscores"), "{err}");
    let err = run("postgres://baton:s3cret@127.0.0.1/marketing?sslmode=sometimes", None);
    assert!(err.contains("the store URL is not valid"), "{err}");
    let config = dir.path().join("baton.toml");
    std::fs::write(&config, "[storage]\nmax_connections = 1\n").unwrap();
    let err = run(&format!("postgres://baton:s3cret@127.0.0.1:{port}/marketing"), Some(&config));
    assert!(err.contains("storage.max_connections must be at least 2"), "{err}");
    // Nothing was written where the data directory would be.
    assert!(!data.exists());
}
