//! `baton plugin new`: a ready-to-build Rust plugin project for one kind - the crate, a minimal
//! implementation, a fixture case that passes, and a build script.

use std::path::Path;

use anyhow::{Context, bail};

/// Where this build of `baton` found the SDK (used when it still exists, as in a checkout).
const SDK_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// Writes a new plugin project into `dir` (which must not exist or be empty).
pub fn new_plugin(kind: &str, lang: &str, dir: &Path) -> anyhow::Result<()> {
    if lang != "rust" {
        bail!(
            "--lang {lang}: this version scaffolds Rust plugins; JavaScript, Python and C scaffolds come with their toolchains"
        );
    }
    let (source, fixture) = match kind {
        "segment-rule" => (SEGMENT, SEGMENT_CASE),
        "personalizer" => (PERSONALIZER, PERSONALIZER_CASE),
        "channel-adapter" => (CHANNEL, CHANNEL_CASE),
        "kpi-calculator" => (KPI, KPI_CASE),
        other => bail!("kind `{other}`: use segment-rule, personalizer, channel-adapter or kpi-calculator"),
    };
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} exists and is not empty; choose a new folder", dir.display());
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.to_ascii_lowercase().replace(['_', ' '], "-"))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .context("the folder name becomes the plugin name: use letters, digits and -")?;
    let sdk = std::fs::canonicalize(SDK_PATH).ok().filter(|p| p.join("Cargo.toml").exists());
    let dependency = match sdk {
        Some(path) => format!("baton-sdk = {{ path = {:?} }}", path.display().to_string()),
        None => "baton-sdk = \"0.1\"".to_owned(),
    };
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("fixtures"))?;
    let write = |path: &str, text: &str| -> anyhow::Result<()> {
        std::fs::write(dir.join(path), text.replace("{{name}}", &name))
            .with_context(|| format!("writing {path}"))
    };
    write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"{{{{name}}}}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n# A standalone project, even inside another workspace.\n[workspace]\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n[dependencies]\n{dependency}\nserde_json = \"1\"\n\n[profile.release]\nopt-level = 3\nlto = true\ncodegen-units = 1\nstrip = true\n"
        ),
    )?;
    write("src/lib.rs", source)?;
    write("fixtures/01-example.json", fixture)?;
    write(
        "build.sh",
        "#!/usr/bin/env sh\n# Builds the component and runs the fixtures with their budgets.\nset -e\ncd \"$(dirname \"$0\")\"\ncargo build --release --target wasm32-wasip2\nwasm=target/wasm32-wasip2/release/$(echo {{name}} | tr - _).wasm\necho \"built $wasm\"\nbaton plugin test \"$wasm\" --fixtures fixtures\n",
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("build.sh"), std::fs::Permissions::from_mode(0o755))?;
    }
    write(
        "README.md",
        "# {{name}}\n\nA Baton plugin. `./build.sh` builds `target/wasm32-wasip2/release/*.wasm` and runs the\ncases in `fixtures/` with `baton plugin test`. Install it with `baton plugin install <file>`.\n",
    )?;
    println!("created {} ({kind}, Rust): ./build.sh builds it and runs its fixtures", dir.display());
    Ok(())
}

const SEGMENT: &str = r#"//! {{name}}: a segment rule. Members are the profiles whose `tier` is the configured tier.

use baton_sdk::*;

/// The plugin.
pub struct Rule;

impl Plugin for Rule {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::SegmentRule, "Profiles of one tier.")
            .with_needs(Needs::attributes(["tier"]))
    }
}

impl SegmentRule for Rule {
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
        let config: serde_json::Value = invocation.config()?;
        let tier = config["tier"].as_str().unwrap_or("vip");
        Ok(subjects.iter().map(|s| Membership::from(s.text("tier") == Some(tier))).collect())
    }
}

baton_sdk::segment_rule!(Rule);
"#;

const SEGMENT_CASE: &str = r#"{
  "call": "evaluate",
  "config": { "tier": "vip" },
  "subjects": [
    { "profile_id": "ada", "attributes": { "tier": "vip" } },
    { "profile_id": "bob", "attributes": { "tier": "basic" } }
  ],
  "expect": [{ "member": true, "score": null }, { "member": false, "score": null }]
}
"#;

const PERSONALIZER: &str = r#"//! {{name}}: a personalizer. Replaces `{{first_name}}` in the body.

use baton_sdk::*;

/// The plugin.
pub struct Greet;

impl Plugin for Greet {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::Personalizer, "Greets by first name.")
            .with_needs(Needs::attributes(["first_name"]))
    }
}

impl Personalizer for Greet {
    fn personalize(_: Invocation, subject: Subject, mut message: Message) -> Result<Message, PluginError> {
        message.body = message.body.replace("{{first_name}}", subject.text("first_name").unwrap_or("there"));
        Ok(message)
    }
}

baton_sdk::personalizer!(Greet);
"#;

const PERSONALIZER_CASE: &str = r#"{
  "call": "personalize",
  "subject": { "profile_id": "ada", "attributes": { "first_name": "Ada" } },
  "template": { "recipient": "ada@example.com", "body": "Hi {{first_name}}" },
  "expect": {
    "channel": "email", "recipient": "ada@example.com", "subject": null, "body": "Hi Ada",
    "html": null, "variant_id": null, "data": {}, "idempotency_key": "fixture"
  }
}
"#;

const CHANNEL: &str = r#"//! {{name}}: a channel adapter. POSTs the body to the configured URL with a bearer secret
//! the host substitutes (`{{secret:HOOK_TOKEN}}`); the plugin never sees it.

use baton_sdk::*;

/// The plugin.
pub struct Hook;

impl Plugin for Hook {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::ChannelAdapter, "POSTs the message body.")
            .with_needs(Needs::none().with_hosts_and_secrets(["*"], ["HOOK_TOKEN"]))
    }
}

impl ChannelAdapter for Hook {
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError> {
        let config: serde_json::Value = invocation.config()?;
        let url = config["url"].as_str().ok_or_else(|| PluginError::new("invalid_config", "set `url`"))?;
        Ok(vec![HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("authorization".into(), "Bearer {{secret:HOOK_TOKEN}}".into())],
            body: message.body.into_bytes(),
        }])
    }

    fn classify(_: Invocation, _: u32, response: HttpResponse) -> DeliveryOutcome {
        match response.status {
            200..=299 => DeliveryOutcome::Delivered(None),
            429 => DeliveryOutcome::Throttled(None),
            500..=599 => DeliveryOutcome::RetryAfter(None),
            status => DeliveryOutcome::Rejected(format!("status {status}")),
        }
    }
}

baton_sdk::channel_adapter!(Hook);
"#;

const CHANNEL_CASE: &str = r#"{
  "call": "classify",
  "response": { "status": 429, "headers": {}, "body": "" },
  "expect": { "throttled": null }
}
"#;

const KPI: &str = r#"//! {{name}}: a KPI calculator. Counts the events it is fed.

use baton_sdk::*;

/// The plugin.
pub struct Count;

/// The running count.
pub struct Total(u64);

impl Plugin for Count {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::KpiCalculator, "Counts events.")
            .with_needs(Needs::none().with_events(["*"], None))
    }
}

impl KpiCalculator for Count {
    type Accumulator = Total;
    fn open(_: Invocation) -> Result<Total, PluginError> {
        Ok(Total(0))
    }
}

impl Accumulator for Total {
    fn add(&mut self, events: Vec<Event>) -> Result<(), PluginError> {
        self.0 += events.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<Metric>, PluginError> {
        Ok(vec![Metric {
            name: "events".into(),
            value: self.0 as f64,
            unit: "count".into(),
            numerator: None,
            denominator: None,
            denominator_name: None,
            dimensions: vec![],
        }])
    }
}

baton_sdk::kpi_calculator!(Count);
"#;

const KPI_CASE: &str = r#"{
  "call": "kpi",
  "batches": [[{ "name": "email_opened" }, { "name": "email_clicked" }], [{ "name": "order_completed" }]],
  "expect": [{
    "name": "events", "value": 3.0, "unit": "count", "numerator": null, "denominator": null,
    "denominator_name": null, "dimensions": []
  }]
}
"#;
