//! A throwaway PostgreSQL cluster for benchmarks and tests: `initdb` into a temporary directory,
//! `pg_ctl start` on a free loopback port, `pg_ctl stop` when dropped.
//!
//! The server binaries are found on `PATH` or under `/usr/lib/postgresql/<version>/bin` (Debian's
//! layout). PostgreSQL refuses to run as root, so under root the cluster belongs to the
//! `postgres` account (or `nobody`) and its commands run as that user.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running cluster. Dropping it stops the server and deletes its files.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    owner: Option<(u32, u32)>,
    /// The port the server listens on, at 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// Why a cluster could not start.
#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Cluster {
    /// Creates and starts a cluster with a `baton` superuser, trusted on loopback only, with
    /// the server's defaults for durability (`fsync` and `synchronous_commit` on), as a
    /// production server runs.
    pub fn start() -> Result<Cluster, ClusterError> {
        let bin = server_binaries()?;
        let dir = tempfile::tempdir().map_err(|e| ClusterError(format!("temporary directory: {e}")))?;
        let owner = unprivileged_owner()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| ClusterError(format!("giving the cluster's directory to uid {uid}: {e}")))?;
        }
        let data = dir.path().join("data");
        let port = free_port()?;
        let cluster = Cluster { bin, data, owner, port, _dir: dir };
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                cluster.data.as_os_str(),
                "-U".as_ref(),
                "baton".as_ref(),
                "--auth=trust".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        )?;
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            cluster._dir.path().display()
        );
        let log = cluster._dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                cluster.data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(cluster)
    }

    /// A connection string for the `postgres` database as the `baton` superuser.
    pub fn url(&self) -> String {
        format!("postgres://baton@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<Output, ClusterError> {
        let mut command = Command::new(self.bin.join(tool));
        command.args(args).env("LC_ALL", "C");
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        let output = command.output().map_err(|e| ClusterError(format!("running {tool}: {e}")))?;
        if !output.status.success() {
            return Err(ClusterError(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(output)
    }
}

/// The cluster this test process shares between its tests: the one `BATON_TEST_POSTGRES` names
/// (a URL), or else one started on first use. A started cluster outlives every test (statics are
/// never dropped), so a watchdog stops it and deletes its files when this process exits, however
/// it exits: the watchdog waits for the end of a pipe only this process holds open.
pub fn shared() -> &'static str {
    static SHARED: std::sync::OnceLock<(String, Option<std::process::ChildStdin>)> =
        std::sync::OnceLock::new();
    &SHARED
        .get_or_init(|| {
            if let Ok(url) = std::env::var("BATON_TEST_POSTGRES") {
                return (url, None);
            }
            let cluster =
                Cluster::start().unwrap_or_else(|e| panic!("starting PostgreSQL for the suite: {e}"));
            let mut watchdog = Command::new("sh");
            watchdog
                .args(["-c", "read _; \"$0\" -D \"$1\" -m immediate stop >/dev/null 2>&1; rm -rf \"$2\""])
                .arg(cluster.bin.join("pg_ctl"))
                .arg(&cluster.data)
                .arg(cluster._dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            if let Some((uid, gid)) = cluster.owner {
                watchdog.uid(uid).gid(gid);
            }
            let mut watchdog =
                watchdog.spawn().unwrap_or_else(|e| panic!("starting the cluster's watchdog: {e}"));
            let url = cluster.url();
            // From here the watchdog owns the cluster's life: dropping it here would stop it.
            std::mem::forget(cluster);
            (url, watchdog.stdin.take())
        })
        .0
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D".as_ref(), self.data.as_os_str(), "-m".as_ref(), "immediate".as_ref(), "stop".as_ref()],
        );
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`, installing Debian's `postgresql`
/// package first if no such directory is found.
fn server_binaries() -> Result<PathBuf, ClusterError> {
    if let Ok(found) = installed_server_binaries() {
        return Ok(found);
    }
    let _locks = crate::polyglot::exclusive();
    crate::polyglot::apt_install(&["postgresql"]);
    installed_server_binaries()
}

fn installed_server_binaries() -> Result<PathBuf, ClusterError> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().map(|d| d.path().join("bin")).collect())
        .unwrap_or_default();
    // The newest installed version first.
    debian.sort_by_key(|dir| std::cmp::Reverse(version_of(dir)));
    debian
        .into_iter()
        .chain(on_path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() && dir.join("postgres").is_file())
        .or_else(|| {
            // PATH may hold symlinks to initdb and pg_ctl only: follow them to the server's directory.
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .filter_map(|dir| std::fs::canonicalize(dir.join("initdb")).ok())
                    .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
                    .find(|dir| dir.join("postgres").is_file())
            })
        })
        .ok_or_else(|| {
            ClusterError(
                "PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not on PATH nor under /usr/lib/postgresql, and installing Debian's postgresql package with apt-get failed (run as root or with passwordless sudo, or install it yourself)".into(),
            )
        })
}

fn version_of(dir: &Path) -> u32 {
    dir.parent()
        .and_then(|v| v.file_name())
        .and_then(|v| v.to_str())
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Under root, the account the cluster runs as: `postgres` if the machine has it, else `nobody`.
fn unprivileged_owner() -> Result<Option<(u32, u32)>, ClusterError> {
    let id = Command::new("id").arg("-u").output().map_err(|e| ClusterError(format!("running id: {e}")))?;
    if String::from_utf8_lossy(&id.stdout).trim() != "0" {
        return Ok(None);
    }
    let passwd =
        std::fs::read_to_string("/etc/passwd").map_err(|e| ClusterError(format!("/etc/passwd: {e}")))?;
    let account = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name) && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    };
    account("postgres").or_else(|| account("nobody")).map(Some).ok_or_else(|| {
        ClusterError("running as root and no postgres or nobody account to run PostgreSQL as".into())
    })
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16, ClusterError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| ClusterError(format!("finding a free port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| ClusterError(format!("finding a free port: {e}")))
}
