//! Connections to PostgreSQL: where to reach it, a bounded pool of connections with their
//! prepared statements, and waiting for tokio-postgres's futures on any thread.
//!
//! Depends on: the store's error type.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio_postgres::{Client, NoTls, Statement};

use crate::store::StorageError;

/// How to reach the database, from `postgres://user:password@host:port/db?schema=name`.
#[derive(Clone)]
pub(crate) struct Target {
    /// The connection settings (the URL without Baton's own `schema` parameter).
    pub(super) config: tokio_postgres::Config,
    /// The schema the store's tables live in.
    pub(crate) schema: String,
    /// Where, for messages: host, port, database and schema, never the password.
    pub(crate) shown: String,
}

impl Target {
    /// Reads a store URL. Baton's own parameter `schema` (default `baton`) names the schema; the
    /// rest is libpq's URL syntax.
    pub(crate) fn parse(url: &str) -> Result<Target, StorageError> {
        let invalid =
            |reason: String| StorageError::Database(format!("the store URL is not valid: {reason}"));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = "baton".to_owned();
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", value)) => schema = value.to_owned(),
                _ => rest.push(pair),
            }
        }
        if schema.is_empty()
            || schema.len() > 63
            || !schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || schema.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(invalid(format!(
                "schema {schema:?}: use 1 to 63 lowercase letters, digits and underscores, not starting with a digit"
            )));
        }
        let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
        let config: tokio_postgres::Config = url.parse().map_err(|e| invalid(format!("{e}")))?;
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("(default)").to_owned();
        let shown = format!("postgres://{host}:{port}/{db} (schema {schema})");
        Ok(Target { config, schema, shown })
    }
}

/// Connection pool limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    /// Connections this worker may hold open at once.
    pub(crate) max_connections: usize,
    /// How long a caller waits for a free connection before failing.
    pub(crate) acquire_timeout: Duration,
}

/// A connection with the statements it has prepared.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) statements: Statements,
}

/// The statements a connection has prepared, by their text: each is prepared once per
/// connection.
#[derive(Default)]
pub(super) struct Statements(HashMap<String, Statement>);

impl Statements {
    /// `sql`, prepared through `tx` the first time (a prepared statement outlives the
    /// transaction it was prepared in, rolled back or not).
    pub(super) async fn prepared(
        &mut self,
        tx: &tokio_postgres::Transaction<'_>,
        sql: &str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = tx.prepare(sql).await?;
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl Conn {
    pub(super) fn prepare(&mut self, sql: &str) -> Result<Statement, StorageError> {
        if let Some(statement) = self.statements.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = wait(self.client.prepare(sql)).map_err(|e| db_error(sql, &e))?;
        self.statements.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

pub(super) struct PoolState {
    pub(super) idle: Vec<Conn>,
    pub(super) open: usize,
}

/// A bounded pool: at most `max_connections` open; a caller past the limit waits for one to be
/// returned, up to `acquire_timeout`.
pub(super) struct Pool {
    pub(super) target: Target,
    pub(super) handle: tokio::runtime::Handle,
    pub(super) limits: PoolLimits,
    pub(super) state: Mutex<PoolState>,
    pub(super) freed: Condvar,
}

impl Pool {
    pub(super) fn get(self: &Arc<Self>) -> Result<Pooled, StorageError> {
        let deadline = std::time::Instant::now() + self.limits.acquire_timeout;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            while let Some(conn) = state.idle.pop() {
                if !conn.client.is_closed() {
                    return Ok(Pooled { pool: self.clone(), conn: Some(conn) });
                }
                state.open -= 1;
            }
            if state.open < self.limits.max_connections {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(Pooled { pool: self.clone(), conn: Some(conn) }),
                    Err(err) => {
                        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                        state.open -= 1;
                        self.freed.notify_one();
                        Err(err)
                    }
                };
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(StorageError::Database(format!(
                    "all {} connections to {} stayed busy for {} ms; raise storage.max_connections or the server's capacity",
                    self.limits.max_connections,
                    self.target.shown,
                    self.limits.acquire_timeout.as_millis()
                )));
            }
            state = self.freed.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn connect(&self) -> Result<Conn, StorageError> {
        let config = self.target.config.clone();
        let shown = self.target.shown.clone();
        let connecting = self.handle.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(error = %err, "A PostgreSQL connection closed with an error.");
                }
            });
            // Baton's statements are short and keyed; PostgreSQL's JIT compiler, which starts
            // on a statement's estimated cost, spent about a second compiling each page read of
            // a 1,000,000-profile rebuild (18 ms to run). Off for Baton's sessions only.
            client.batch_execute("SET jit = off").await?;
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = wait(connecting)
            .map_err(|e| StorageError::Database(format!("connecting to {shown}: {e}")))?
            .map_err(|e| db_error(&format!("connecting to {shown}"), &e))?;
        Ok(Conn { client, statements: Statements::default() })
    }

    /// How many connections are open and how many of them are in use.
    pub(super) fn usage(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.open, state.open - state.idle.len())
    }
}

/// A connection out of the pool; back in when dropped.
pub(super) struct Pooled {
    pool: Arc<Pool>,
    conn: Option<Conn>,
}

impl Pooled {
    pub(super) fn conn_mut(&mut self) -> Result<&mut Conn, StorageError> {
        // Present from checkout until drop or discard.
        self.conn.as_mut().ok_or_else(|| StorageError::Database("a discarded connection was used".into()))
    }

    /// Closes the connection instead of returning it.
    pub(super) fn discard(&mut self) {
        if self.conn.take().is_some() {
            let mut state = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
            state.open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut state = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
            if conn.client.is_closed() {
                state.open -= 1;
            } else {
                state.idle.push(conn);
            }
            self.pool.freed.notify_one();
        }
    }
}

pub(super) fn db_error(doing: &str, err: &tokio_postgres::Error) -> StorageError {
    let detail = match err.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            // "error connecting to server" alone does not say what to fix; the cause does
            // ("Connection refused", a name that does not resolve, a timeout).
            let mut detail = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                detail.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            detail
        }
    };
    StorageError::Database(format!("PostgreSQL, {}: {detail}", doing.lines().next().unwrap_or(doing)))
}

/// Waits for `future` on the calling thread. The futures of a tokio-postgres client only wait
/// for messages from its connection task, which runs on the backend's runtime, so any thread can
/// wait for them, inside an async context or not.
pub(super) fn wait<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_url_names_its_schema_and_shows_no_password() {
        let parsed =
            Target::parse("postgres://baton:s3cret@db.internal:5433/marketing?schema=prod_1").unwrap();
        assert_eq!(parsed.schema, "prod_1");
        assert_eq!(parsed.shown, "postgres://db.internal:5433/marketing (schema prod_1)");
        assert_eq!(Target::parse("postgres://db.internal/marketing").unwrap().schema, "baton");
        // A schema name is spliced into statements, so it must be a plain identifier.
        for bad in ["x;drop table baton.events", "x%3Bdrop", "Prod", "1st", "", "a-b", "\"x\""] {
            let err = Target::parse(&format!("postgres://db.internal/marketing?schema={bad}")).err().unwrap();
            assert!(
                err.to_string().contains("use 1 to 63 lowercase letters, digits and underscores"),
                "{bad}: {err}"
            );
        }
        // libpq's own options pass through, and their errors do not repeat the password.
        let err =
            Target::parse("postgres://baton:s3cret@db.internal/marketing?sslmode=sometimes").err().unwrap();
        assert!(err.to_string().starts_with("store: the store URL is not valid"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
