//! `baton plugin new`: a ready-to-build plugin project for one kind in Rust, JavaScript, Python or
//! C - a minimal implementation, the WIT contract (for the languages that read it), fixture cases
//! that pass, and a `build.sh` that builds the component and runs them with `baton plugin test`.
//!
//! The four languages implement the same behaviour per kind, so one set of fixtures
//! (`host/templates/fixtures`) serves them all; the test suite builds every scaffold with its
//! toolchain and runs those fixtures.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use baton::toolkit::{self, COMPONENTIZE_JS_VERSION, COMPONENTIZE_PY_VERSION, JCO_VERSION};

/// The Rust SDK, carried inside the binary and written into every Rust project as `baton-sdk/`
/// with the contract it binds, so a project builds wherever its author is: with only the `baton`
/// binary and the Rust toolchain, no Baton checkout and no registry release needed.
const SDK_FILES: [(&str, &str); 7] = [
    ("Cargo.toml", include_str!("../../sdk/Cargo.toml")),
    ("src/lib.rs", include_str!("../../sdk/src/lib.rs")),
    ("src/kinds.rs", include_str!("../../sdk/src/kinds.rs")),
    ("src/helpers.rs", include_str!("../../sdk/src/helpers.rs")),
    ("src/conditions.rs", include_str!("../../sdk/src/conditions.rs")),
    ("src/rfm.rs", include_str!("../../sdk/src/rfm.rs")),
    ("src/time.rs", include_str!("../../sdk/src/time.rs")),
];

/// The languages a plugin can be scaffolded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    Js,
    Python,
    C,
}

impl Lang {
    fn parse(lang: &str) -> anyhow::Result<Lang> {
        Ok(match lang {
            "rust" => Lang::Rust,
            "js" | "javascript" => Lang::Js,
            "python" | "py" => Lang::Python,
            "c" => Lang::C,
            other => bail!("--lang {other}: use rust, js, python or c"),
        })
    }

    fn title(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Js => "JavaScript",
            Lang::Python => "Python",
            Lang::C => "C",
        }
    }
}

/// Fixture cases by kind, shared by every language: (kind, file name, text).
const FIXTURES: [(&str, &str, &str); 14] = [
    ("segment-rule", "01-members.json", include_str!("../templates/fixtures/segment-rule-01-members.json")),
    ("segment-rule", "02-config.json", include_str!("../templates/fixtures/segment-rule-02-config.json")),
    ("segment-rule", "03-needs.json", include_str!("../templates/fixtures/segment-rule-03-needs.json")),
    ("personalizer", "01-greets.json", include_str!("../templates/fixtures/personalizer-01-greets.json")),
    ("personalizer", "02-fallback.json", include_str!("../templates/fixtures/personalizer-02-fallback.json")),
    ("channel-adapter", "01-build.json", include_str!("../templates/fixtures/channel-adapter-01-build.json")),
    (
        "channel-adapter",
        "02-throttled.json",
        include_str!("../templates/fixtures/channel-adapter-02-throttled.json"),
    ),
    (
        "channel-adapter",
        "03-config.json",
        include_str!("../templates/fixtures/channel-adapter-03-config.json"),
    ),
    (
        "channel-adapter",
        "04-verification.json",
        include_str!("../templates/fixtures/channel-adapter-04-verification.json"),
    ),
    (
        "channel-adapter",
        "05-feedback.json",
        include_str!("../templates/fixtures/channel-adapter-05-feedback.json"),
    ),
    ("kpi-calculator", "01-counts.json", include_str!("../templates/fixtures/kpi-calculator-01-counts.json")),
    ("computed-trait", "01-counts.json", include_str!("../templates/fixtures/computed-trait-01-counts.json")),
    ("computed-trait", "02-config.json", include_str!("../templates/fixtures/computed-trait-02-config.json")),
    ("computed-trait", "03-needs.json", include_str!("../templates/fixtures/computed-trait-03-needs.json")),
];

/// Implementations by kind and language: (kind, language, path in the project, text).
const SOURCES: [(&str, Lang, &str, &str); 21] = [
    ("segment-rule", Lang::Rust, "src/lib.rs", include_str!("../templates/rust/segment-rule.rs")),
    ("personalizer", Lang::Rust, "src/lib.rs", include_str!("../templates/rust/personalizer.rs")),
    ("channel-adapter", Lang::Rust, "src/lib.rs", include_str!("../templates/rust/channel-adapter.rs")),
    ("kpi-calculator", Lang::Rust, "src/lib.rs", include_str!("../templates/rust/kpi-calculator.rs")),
    ("computed-trait", Lang::Rust, "src/lib.rs", include_str!("../templates/rust/computed-trait.rs")),
    ("segment-rule", Lang::Js, "app.js", include_str!("../templates/js/segment-rule.js")),
    ("personalizer", Lang::Js, "app.js", include_str!("../templates/js/personalizer.js")),
    ("channel-adapter", Lang::Js, "app.js", include_str!("../templates/js/channel-adapter.js")),
    ("kpi-calculator", Lang::Js, "app.js", include_str!("../templates/js/kpi-calculator.js")),
    ("computed-trait", Lang::Js, "app.js", include_str!("../templates/js/computed-trait.js")),
    ("segment-rule", Lang::Python, "app.py", include_str!("../templates/python/segment-rule.py")),
    ("personalizer", Lang::Python, "app.py", include_str!("../templates/python/personalizer.py")),
    ("channel-adapter", Lang::Python, "app.py", include_str!("../templates/python/channel-adapter.py")),
    ("kpi-calculator", Lang::Python, "app.py", include_str!("../templates/python/kpi-calculator.py")),
    ("computed-trait", Lang::Python, "app.py", include_str!("../templates/python/computed-trait.py")),
    // componentize-py finds an exported resource's class in a module named after its interface.
    ("kpi-calculator", Lang::Python, "kpi.py", include_str!("../templates/python/kpi.py")),
    ("segment-rule", Lang::C, "plugin.c", include_str!("../templates/c/segment-rule.c")),
    ("personalizer", Lang::C, "plugin.c", include_str!("../templates/c/personalizer.c")),
    ("channel-adapter", Lang::C, "plugin.c", include_str!("../templates/c/channel-adapter.c")),
    ("kpi-calculator", Lang::C, "plugin.c", include_str!("../templates/c/kpi-calculator.c")),
    ("computed-trait", Lang::C, "plugin.c", include_str!("../templates/c/computed-trait.c")),
];

/// Build files by language: (language, path in the project, text).
const BUILD_FILES: [(Lang, &str, &str); 6] = [
    (Lang::Rust, "build.sh", include_str!("../templates/rust/build.sh")),
    (Lang::Js, "build.sh", include_str!("../templates/js/build.sh")),
    (Lang::Js, "package.json", include_str!("../templates/js/package.json")),
    (Lang::Python, "build.sh", include_str!("../templates/python/build.sh")),
    (Lang::Python, "requirements.txt", include_str!("../templates/python/requirements.txt")),
    (Lang::C, "build.sh", include_str!("../templates/c/build.sh")),
];

/// The strict JSON reader C projects use for their configs, copied verbatim (never templated).
const C_LIBRARY: [(&str, &str); 2] = [
    ("minijson.h", include_str!("../../sdk/c/minijson.h")),
    ("minijson.c", include_str!("../../sdk/c/minijson.c")),
];

/// Writes a new plugin project into `dir` (which must not exist or be empty). The project is
/// assembled beside `dir` and renamed into place, so a failure leaves no half-written project.
pub fn new_plugin(kind: &str, lang: &str, dir: &Path) -> anyhow::Result<()> {
    if !toolkit::WORLDS.contains(&kind) {
        bail!(
            "kind `{kind}`: use segment-rule, personalizer, channel-adapter, kpi-calculator or computed-trait"
        );
    }
    let lang = Lang::parse(lang)?;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} exists and is not empty; choose a new folder", dir.display());
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.to_ascii_lowercase().replace(['_', ' '], "-"))
        .filter(|n| {
            n.starts_with(|c: char| c.is_ascii_lowercase())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .context("the folder name becomes the plugin name: start with a letter; use letters, digits and -")?;

    let files = project_files(kind, lang, &name);
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    for (path, text) in &files {
        let target = staging.path().join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {path}"))?;
    }
    make_executable(&staging.path().join("build.sh"))?;
    if dir.exists() {
        std::fs::remove_dir(dir).with_context(|| format!("replacing the empty folder {}", dir.display()))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, dir).with_context(|| format!("moving the project into {}", dir.display()))?;

    println!(
        "created {} ({kind}, {}): ./build.sh builds it and runs its fixtures{}",
        dir.display(),
        lang.title(),
        match lang {
            Lang::Rust => "",
            Lang::Js => " (installs jco with npm on first run)",
            Lang::Python => " (installs componentize-py into .venv on first run)",
            Lang::C => " (needs clang with the wasm32-wasi target)",
        }
    );
    Ok(())
}

/// Every file of the project, with its placeholders filled in.
fn project_files(kind: &str, lang: Lang, name: &str) -> Vec<(String, String)> {
    let stem = kind.replace('-', "_");
    let crate_name = name.replace('-', "_");
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{kind}}", kind)
            .replace("{{world}}", kind)
            .replace("{{stem}}", &stem)
            .replace("{{jco}}", JCO_VERSION)
            .replace("{{componentize_js}}", COMPONENTIZE_JS_VERSION)
            .replace("{{componentize_py}}", COMPONENTIZE_PY_VERSION)
    };
    let mut files: Vec<(String, String)> = Vec::new();
    for (k, l, path, text) in SOURCES {
        if k == kind && l == lang {
            files.push((path.to_owned(), fill(text)));
        }
    }
    for (l, path, text) in BUILD_FILES {
        if l == lang {
            files.push((path.to_owned(), fill(text)));
        }
    }
    if lang == Lang::C {
        files.extend(C_LIBRARY.iter().map(|(path, text)| ((*path).to_owned(), (*text).to_owned())));
    }
    for (k, file, text) in FIXTURES {
        if k == kind {
            files.push((format!("fixtures/{file}"), text.to_owned()));
        }
    }
    if lang == Lang::Rust {
        files.push(("Cargo.toml".into(), cargo_toml(name)));
        files.extend(SDK_FILES.iter().map(|(path, text)| (format!("baton-sdk/{path}"), (*text).to_owned())));
        for (version, wit) in toolkit::ALL_WIT_FILES {
            for (file, text) in wit {
                files.push((format!("baton-sdk/wit/v{version}/{file}"), text.to_owned()));
            }
        }
    } else {
        // JavaScript, Python and C toolchains read the contract itself.
        for (file, text) in toolkit::WIT_FILES {
            files.push((format!("wit/{file}"), text.to_owned()));
        }
    }
    files.push((".gitignore".into(), gitignore(lang).to_owned()));
    files.push(("README.md".into(), readme(kind, lang, name)));
    files
}

fn cargo_toml(name: &str) -> String {
    let dependency = "baton-sdk = { path = \"baton-sdk\" }";
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         # A standalone project, even inside another workspace.\n[workspace]\n\n\
         [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
         [dependencies]\n{dependency}\nserde_json = \"1\"\n\n\
         [profile.release]\nopt-level = 3\nlto = true\ncodegen-units = 1\nstrip = true\n"
    )
}

fn gitignore(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "/target\n",
        Lang::Js => "/node_modules\n/*.wasm\n",
        Lang::Python => "/.venv\n__pycache__/\n/*.wasm\n",
        Lang::C => "/gen\n/*.wasm\n",
    }
}

fn readme(kind: &str, lang: Lang, name: &str) -> String {
    let (output, toolchain, layout) = match lang {
        Lang::Rust => (
            "target/wasm32-wasip2/release/*.wasm".to_owned(),
            "cargo with the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`)".to_owned(),
            "`src/lib.rs` implements the plugin with `baton-sdk`, which comes with the project in \
             `baton-sdk/` (the SDK of the `baton` that made it, with its contract in \
             `baton-sdk/wit/`).",
        ),
        Lang::Js => (
            format!("{name}.wasm"),
            format!(
                "Node.js and npm; `build.sh` installs `@bytecodealliance/jco` {JCO_VERSION} and \
                 `@bytecodealliance/componentize-js` {COMPONENTIZE_JS_VERSION} on first run"
            ),
            "`app.js` implements the plugin; `wit/` is the contract jco builds against. It is built \
             without HTTP support: plugins have no network, and Baton refuses a component that \
             imports `wasi:http`.",
        ),
        Lang::Python => (
            format!("{name}.wasm"),
            format!(
                "Python 3.10 or later; `build.sh` installs `componentize-py` {COMPONENTIZE_PY_VERSION} \
                 into `.venv` on first run"
            ),
            "`app.py` implements the plugin; `wit/` is the contract componentize-py builds against. \
             `componentize-py -d wit -w <world> bindings .` writes the `wit_world` package for your \
             editor's type checker.",
        ),
        Lang::C => (
            format!("{name}.wasm"),
            "clang with the `wasm32-wasi` target (Debian: `clang lld wasi-libc libclang-rt-dev-wasm32`)"
                .to_owned(),
            "`plugin.c` implements the plugin; `baton plugin bindings c` writes the bindings into \
             `gen/`, and `baton plugin componentize` turns clang's module into a component. \
             `minijson.h` reads JSON configs.",
        ),
    };
    format!(
        "# {name}\n\nA Baton {kind} plugin in {}. {layout}\n\n\
         `./build.sh` builds `{output}` and runs the cases in `fixtures/` with `baton plugin test`, \
         which prints each call's fuel, time and memory against its budgets. It needs {toolchain}, \
         and `baton` on PATH (or `BATON=/path/to/baton`).\n\n\
         Install the component with `baton plugin install <file>`. The contract, kind by kind, is in \
         Baton's plugin author's guide (`sdk/GUIDE.md`).\n",
        lang.title()
    )
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every source file of the SDK travels in the binary: a module added to the SDK and left
    /// out here breaks every Rust project `plugin new` writes.
    #[test]
    fn the_carried_sdk_has_every_source_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| format!("src/{}", entry.file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut carried: Vec<String> =
            SDK_FILES.iter().map(|(path, _)| (*path).to_owned()).filter(|p| p.starts_with("src/")).collect();
        carried.sort();
        assert_eq!(carried, on_disk);
    }

    #[test]
    fn every_kind_and_language_has_its_sources_build_files_and_fixtures() {
        for kind in toolkit::WORLDS {
            for lang in [Lang::Rust, Lang::Js, Lang::Python, Lang::C] {
                let files = project_files(kind, lang, "my-plugin");
                let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
                assert!(paths.contains(&"build.sh") && paths.contains(&"README.md"), "{kind} {lang:?}");
                assert!(paths.iter().any(|p| p.starts_with("fixtures/")), "{kind} {lang:?}");
                let source = match lang {
                    Lang::Rust => "src/lib.rs",
                    Lang::Js => "app.js",
                    Lang::Python => "app.py",
                    Lang::C => "plugin.c",
                };
                assert_eq!(paths.iter().filter(|p| **p == source).count(), 1, "{kind} {lang:?}");
                for (path, text) in &files {
                    if !path.starts_with("minijson") {
                        for placeholder in ["{{name}}", "{{world}}", "{{stem}}", "{{crate}}", "{{jco}}"] {
                            assert!(!text.contains(placeholder), "{kind} {lang:?} {path}: {placeholder}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_bad_kind_language_or_folder_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = new_plugin("oracle", "rust", &dir.path().join("x")).unwrap_err();
        assert!(err.to_string().contains("use segment-rule, personalizer"), "{err}");
        let err = new_plugin("segment-rule", "cobol", &dir.path().join("x")).unwrap_err();
        assert_eq!(err.to_string(), "--lang cobol: use rust, js, python or c");
        let err = new_plugin("segment-rule", "js", &dir.path().join("9lives")).unwrap_err();
        assert!(err.to_string().contains("start with a letter"), "{err}");
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        std::fs::write(dir.path().join("taken/file"), "x").unwrap();
        let err = new_plugin("segment-rule", "c", &dir.path().join("taken")).unwrap_err();
        assert!(err.to_string().contains("is not empty"), "{err}");
        // Nothing was left behind by the refusals.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("taken")]);
    }
}
