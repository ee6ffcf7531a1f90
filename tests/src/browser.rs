//! A real browser for the console's end-to-end tests: Debian's `chromium` (installed with
//! apt-get on first use), driven by `playwright-core` from npm, with `axe-core` for accessibility
//! scans, both installed, pinned, into the toolchain cache. A test writes a small Node.js script
//! against the real server; the script prints one JSON value, which the test asserts on.

use std::path::PathBuf;
use std::process::Command;

use crate::polyglot::{cache_root, exclusive, npm_install};

const PLAYWRIGHT_CORE: &str = "1.65.1";
const AXE_CORE: &str = "4.14.1";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The `node_modules` folder holding playwright-core and axe-core, installed on first use.
fn node_modules() -> PathBuf {
    let dir = cache_root().join(format!("playwright-{PLAYWRIGHT_CORE}-axe-{AXE_CORE}"));
    let modules = dir.join("node_modules");
    if modules.join("playwright-core").exists() && modules.join("axe-core").exists() {
        return modules;
    }
    let _locks = exclusive();
    if modules.join("playwright-core").exists() && modules.join("axe-core").exists() {
        return modules;
    }
    npm_install(
        &dir,
        "baton-browser-tests",
        serde_json::json!({ "playwright-core": PLAYWRIGHT_CORE, "axe-core": AXE_CORE }),
        "the console's browser tests",
    );
    modules
}

/// Makes sure Debian's chromium is installed.
fn ensure_chromium() {
    if std::path::Path::new(CHROMIUM).exists() {
        return;
    }
    let _locks = exclusive();
    if std::path::Path::new(CHROMIUM).exists() {
        return;
    }
    crate::polyglot::apt_install(&["chromium"]);
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "the console's browser tests need Debian's chromium; installing it with apt-get failed (run as \
         root or with passwordless sudo, or install it yourself)"
    );
}

/// What every script starts with: `browse(async (page, axe) => result)` opens a fresh headless
/// chromium profile, runs the function, prints its result as JSON and closes the browser.
/// `axe(page)` runs axe-core on the page and returns its violations as `[id, impact, targets]`.
const PRELUDE: &str = r#"
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
async function axe(page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern: the
  // console runs under its real policy while it is scanned.
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  return await page.evaluate(async () =>
    (await window.axe.run()).violations.map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' '))]));
}
async function browse(work) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.BATON_CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    console.log(JSON.stringify(await work(page, axe)));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
"#;

/// Runs `script` (which calls `browse`) with Node.js and returns the JSON it printed. `BASE`
/// and each of `env` are in `process.env`.
pub fn script(base: &str, env: &[(&str, &str)], script: &str) -> serde_json::Value {
    ensure_chromium();
    let modules = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.js");
    std::fs::write(&file, format!("{PRELUDE}\n{script}\n")).unwrap();
    let mut command = Command::new("node");
    command.arg(&file).env("NODE_PATH", &modules).env("BATON_CHROMIUM", CHROMIUM).env("BASE", base);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser script failed:\n{}\n{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("the script printed {last:?}: {e}"))
}
