//! Builds the polyglot example plugins (`examples/polyglot`) from source, each with its own
//! language's toolchain, so tests can install them into a real host and compare them with their
//! Rust twins.
//!
//! The toolchains come from the package registries on first use and are cached, pinned, under
//! `$BATON_TOOLCHAINS` (default `~/.cache/baton-toolchains`):
//! - JavaScript: `@bytecodealliance/jco` and `@bytecodealliance/componentize-js` from npm;
//! - Python: `componentize-py` from PyPI, in a virtual environment;
//! - C: Debian's `clang`, `lld`, `wasi-libc` and `libclang-rt-dev-wasm32` (installed with apt-get
//!   when clang cannot target `wasm32-wasi` yet), with bindings and componentization from
//!   `baton::toolkit` — the code behind `baton plugin bindings c` and `baton plugin componentize`.
//!
//! Built components are cached by a hash of their sources, the WIT and the toolchain version, so
//! a second test run rebuilds nothing. A file lock serializes installs and builds across test
//! processes; a mutex does so across the threads of one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use baton::toolkit::{
    COMPONENTIZE_JS_VERSION as COMPONENTIZE_JS, COMPONENTIZE_PY_VERSION as COMPONENTIZE_PY,
    JCO_VERSION as JCO,
};
use sha2::{Digest, Sha256};

/// The languages the examples are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust with baton-sdk, built by this crate's build script.
    Rust,
    /// JavaScript, with `jco componentize`.
    Js,
    /// Python, with `componentize-py`.
    Python,
    /// C, with clang's `wasm32-wasi` target and wit-bindgen's C generator.
    C,
}

impl Lang {
    /// Every language, Rust first.
    pub const ALL: [Lang; 4] = [Lang::Rust, Lang::Js, Lang::Python, Lang::C];

    /// The folder name under each example, and the suffix of the plugin's name.
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
            Lang::C => "c",
        }
    }
}

/// The contract the JavaScript, Python and C examples are written against. They stay on 0.1.0 on
/// purpose: with the 0.1.0 fixtures they are the plugins, in every language, that a contract
/// change must keep running unchanged. The scaffolds (`baton plugin new`) cover the newest one.
pub const POLYGLOT_CONTRACT: &str = "0.1.0";

const DEBIAN_C_PACKAGES: [&str; 4] = ["clang", "lld", "wasi-libc", "libclang-rt-dev-wasm32"];

/// Serializes builds among the threads of one test process.
static BUILDS: Mutex<()> = Mutex::new(());

/// The repository's root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The cache folder for toolchains and built components.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("BATON_TOOLCHAINS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("baton-toolchains")
}

/// The world an example implements.
fn world_of(example: &str) -> &'static str {
    match example {
        "segment-high-value" => "segment-rule",
        "channel-json-post" => "channel-adapter",
        other => panic!("no polyglot example `{other}`"),
    }
}

/// The component of `example` written in `lang`, built from source (or from the cache).
pub fn component(example: &str, lang: Lang) -> Vec<u8> {
    if lang == Lang::Rust {
        let name = format!("{example}-rust").replace('-', "_");
        let path = PathBuf::from(env!("BATON_POLYGLOT_DIR")).join(format!("{name}.wasm"));
        return std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let source = repo().join("examples/polyglot").join(example).join(lang.dir());
    cached_build(&source, world_of(example), lang, false)
}

/// Builds the JavaScript, Python or C plugin in `source` (a folder holding `app.js`, `app.py` or
/// `plugin.c`) for `world`. JavaScript is built without HTTP support, as Baton requires.
pub fn build(source: &Path, world: &str, lang: Lang) -> Vec<u8> {
    assert_ne!(lang, Lang::Rust, "Rust plugins are built by the build script");
    cached_build(source, world, lang, false)
}

/// Builds a JavaScript plugin with jco's default features, HTTP (`fetch`) included: what an author
/// who forgot `--disable http` would try to install.
pub fn build_js_with_http(source: &Path, world: &str) -> Vec<u8> {
    cached_build(source, world, Lang::Js, true)
}

/// Installs `lang`'s toolchain if it is missing and returns the environment a scaffold's
/// `build.sh` (`baton plugin new`) reads to use it instead of installing its own copy.
pub fn toolchain_env(lang: Lang) -> Vec<(&'static str, PathBuf)> {
    let _locks = exclusive();
    match lang {
        Lang::Rust => Vec::new(),
        Lang::Js => vec![("JCO", jco())],
        Lang::Python => vec![("COMPONENTIZE_PY", componentize_py())],
        Lang::C => {
            ensure_clang();
            Vec::new()
        }
    }
}

/// Holds the cache for this thread alone: a mutex among this process's threads, a file lock
/// among processes.
pub(crate) fn exclusive() -> (std::sync::MutexGuard<'static, ()>, File) {
    let threads = BUILDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = cache_root();
    std::fs::create_dir_all(root.join("builds")).unwrap();
    let lock = File::create(root.join(".lock")).unwrap();
    lock.lock().unwrap();
    (threads, lock)
}

fn cached_build(source: &Path, world: &str, lang: Lang, http: bool) -> Vec<u8> {
    let _locks = exclusive();
    let root = cache_root();

    let label: Vec<String> =
        source.components().rev().take(2).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let key = cache_key(source, lang, &format!("{world} http={http}"));
    let out = root.join("builds").join(format!("{}-{}-{key}.wasm", label[1], label[0]));
    if !out.exists() {
        let partial = out.with_extension("partial");
        match lang {
            Lang::Js => build_js(source, world, http, &partial),
            Lang::Python => build_python(source, world, &partial),
            Lang::C => build_c(source, world, &partial),
            Lang::Rust => unreachable!("built by the build script"),
        }
        std::fs::rename(&partial, &out).unwrap();
    }
    std::fs::read(&out).unwrap()
}

/// A hash of everything a build depends on: the sources, the WIT, the toolchain's version.
fn cache_key(source: &Path, lang: Lang, options: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(options.as_bytes());
    let tool = match lang {
        Lang::Js => format!("jco {JCO} componentize-js {COMPONENTIZE_JS}"),
        Lang::Python => format!("componentize-py {COMPONENTIZE_PY}"),
        Lang::C => format!("clang wasm32-wasi, baton {}", env!("CARGO_PKG_VERSION")),
        Lang::Rust => String::new(),
    };
    hasher.update(tool.as_bytes());
    let mut inputs = vec![source.to_path_buf(), repo().join(format!("wit/v{POLYGLOT_CONTRACT}"))];
    if lang == Lang::C {
        inputs.push(repo().join("sdk/c"));
    }
    for dir in inputs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            hasher.update(file.file_name().unwrap().as_encoded_bytes());
            hasher.update(std::fs::read(&file).unwrap());
        }
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Runs a command, panicking with its output if it fails.
pub(crate) fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Whether a command can be started and succeeds.
pub(crate) fn works(command: &mut Command) -> bool {
    command.output().is_ok_and(|o| o.status.success())
}

/// Installs Debian packages with apt-get (as root, or through passwordless sudo), updating the
/// package lists once if the first try fails. Callers check what they needed afterwards and
/// say what to install by hand if it is still missing.
pub(crate) fn apt_install(packages: &[&str]) {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut command = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            command.args(["-n", "apt-get"]);
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        works(&mut command)
    };
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(packages);
    if !apt(&install) {
        apt(&["update"]);
        apt(&install);
    }
}

fn wit_dir() -> PathBuf {
    std::fs::canonicalize(repo().join(format!("wit/v{POLYGLOT_CONTRACT}"))).unwrap()
}

// ---- JavaScript

/// Installs pinned npm `dependencies` into `dir` (a private package called `name`), for `who`
/// (named in the error when npm is missing).
pub(crate) fn npm_install(dir: &std::path::Path, name: &str, dependencies: serde_json::Value, who: &str) {
    assert!(
        works(Command::new("npm").arg("--version")),
        "{who} need Node.js and npm on PATH (Debian: apt-get install nodejs npm)"
    );
    std::fs::create_dir_all(dir).unwrap();
    let manifest = serde_json::json!({ "name": name, "private": true, "dependencies": dependencies });
    std::fs::write(dir.join("package.json"), manifest.to_string()).unwrap();
    run(
        Command::new("npm").args(["install", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(dir),
        &format!("installing {name}'s npm packages"),
    );
}

/// `jco`, installed from npm into the cache on first use.
fn jco() -> PathBuf {
    let dir = cache_root().join(format!("jco-{JCO}"));
    let bin = dir.join("node_modules/.bin/jco");
    if bin.exists() {
        return bin;
    }
    npm_install(
        &dir,
        "baton-js-toolchain",
        serde_json::json!({
            "@bytecodealliance/jco": JCO,
            "@bytecodealliance/componentize-js": COMPONENTIZE_JS,
        }),
        "JavaScript plugins",
    );
    assert!(bin.exists(), "npm installed jco but {} is missing", bin.display());
    bin
}

fn build_js(source: &Path, world: &str, http: bool, out: &Path) {
    let mut command = Command::new(jco());
    // jco resolves the entry module relative to the working directory; give it a relative path.
    command.args(["componentize", "app.js", "--wit"]).arg(wit_dir()).args(["--world-name", world]);
    if !http {
        command.args(["--disable", "http", "fetch-event"]);
    }
    run(command.arg("-o").arg(out).current_dir(source), "jco componentize");
}

// ---- Python

/// `componentize-py`, installed from PyPI into a virtual environment in the cache on first use.
fn componentize_py() -> PathBuf {
    let venv = cache_root().join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let bin = venv.join("bin/componentize-py");
    if bin.exists() {
        return bin;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "creating a Python virtual environment");
    run(
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("componentize-py=={COMPONENTIZE_PY}"),
        ]),
        "installing componentize-py from PyPI",
    );
    bin
}

/// The official analytics client libraries the suite sends through, pinned.
pub const CLIENT_LIBRARIES: [&str; 2] = ["segment-analytics-python==2.4.0", "rudder-sdk-python==2.1.9"];

/// A virtual environment `name` in the cache with `packages` installed from PyPI, made once:
/// a marker file records what was installed, so a change of pins reinstalls.
fn python_venv(name: &str, packages: &[&str], what: &str) -> PathBuf {
    let _locks = exclusive();
    let venv = cache_root().join(name);
    let marker = venv.join(".installed");
    if std::fs::read_to_string(&marker).is_ok_and(|text| text == packages.join(" ")) {
        return venv;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "creating a Python virtual environment");
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages),
        what,
    );
    std::fs::write(&marker, packages.join(" ")).unwrap();
    venv
}

/// A Python with Segment's and RudderStack's official client libraries, installed from PyPI
/// into a virtual environment in the cache on first use.
pub fn python_with_client_libraries() -> PathBuf {
    python_venv("analytics-clients", &CLIENT_LIBRARIES, "installing the analytics client libraries from PyPI")
        .join("bin/python")
}

/// The schemathesis release the suite tests the served OpenAPI document with, pinned.
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// schemathesis's `st` command, installed from PyPI into a virtual environment in the cache on
/// first use.
pub fn schemathesis() -> PathBuf {
    python_venv("schemathesis", &[SCHEMATHESIS], "installing schemathesis from PyPI").join("bin/st")
}

fn build_python(source: &Path, world: &str, out: &Path) {
    run(
        Command::new(componentize_py())
            .arg("-d")
            .arg(wit_dir())
            .args(["-w", world, "componentize", "app", "-o"])
            .arg(out)
            // Keep the source folder clean: no __pycache__ beside the app.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(source),
        "componentize-py",
    );
}

// ---- C

/// Makes sure clang can build for `wasm32-wasi`, installing Debian's packages if it cannot.
fn ensure_clang() {
    let probe_dir = cache_root().join("clang-probe");
    std::fs::create_dir_all(&probe_dir).unwrap();
    let probe = probe_dir.join("probe.c");
    std::fs::write(&probe, "#include <stdlib.h>\nvoid *f(size_t n) { return malloc(n); }\n").unwrap();
    let compiles = || {
        works(
            Command::new("clang")
                .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-o"])
                .arg(probe_dir.join("probe.wasm"))
                .arg(&probe),
        )
    };
    if compiles() {
        return;
    }
    apt_install(&DEBIAN_C_PACKAGES);
    assert!(
        compiles(),
        "C plugins need clang with the wasm32-wasi target; installing the Debian packages {} \
         failed (run as root or with passwordless sudo, or install them yourself)",
        DEBIAN_C_PACKAGES.join(" ")
    );
}

fn build_c(source: &Path, world: &str, out: &Path) {
    ensure_clang();
    let work = tempfile::tempdir().unwrap();
    for (name, bytes) in baton::toolkit::c_bindings(world, POLYGLOT_CONTRACT).unwrap() {
        std::fs::write(work.path().join(name), bytes).unwrap();
    }
    let stem = world.replace('-', "_");
    let common = repo().join("sdk/c");
    let core = work.path().join("core.wasm");
    run(
        Command::new("clang")
            .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra"])
            .arg("-I")
            .arg(work.path())
            .arg("-I")
            .arg(&common)
            .arg(source.join("plugin.c"))
            .arg(common.join("minijson.c"))
            .arg(work.path().join(format!("{stem}.c")))
            .arg(work.path().join(format!("{stem}_component_type.o")))
            .arg("-o")
            .arg(&core),
        "clang",
    );
    let component = baton::toolkit::componentize(&std::fs::read(&core).unwrap()).unwrap();
    std::fs::write(out, component).unwrap();
}
