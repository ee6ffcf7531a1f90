//! The server backend: the same tables in PostgreSQL, shared by any number of `baton serve`
//! workers.
//!
//! Each table of the store is a PostgreSQL table in the store's schema, laid out as `layout`
//! describes (byte keys and values, a distribution column on tables keyed by profile, events
//! partitioned by month). Schema migrations are versioned and run on open under an advisory lock, so workers starting at
//! once apply each migration once. The writer lock is an advisory lock too: a worker that dies
//! while holding it loses its connection, and the server releases the lock with it.
//!
//! Storage's methods are synchronous (sled's are), so the backend drives tokio-postgres on a small
//! runtime of its own and waits for each answer on the calling thread; that works the same from a
//! request handler, a blocking task or a plain thread.
//!
//! Depends on: `backend` (the interface).

mod layout;
mod pool;

use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use layout::{ID_BLOCK, Layout, lower_profile, migrations, upper_profile};
use pool::{Conn, Pool, PoolState, Pooled, Statements, db_error, wait};
pub(crate) use pool::{PoolLimits, Target};

use super::backend::{
    Backend, Bytes, ClaimPlan, Entry, Lock, RESYNC, Write, WriterGuard, borrowed, scan_each,
};
use super::{StorageError, TreeId};

/// Advisory lock keys: `hashtext(schema)` and a number, the migration lock's, the partition
/// maker's, or a [`Lock`]'s plus [`LOCK_BASE`].
const MIGRATION_LOCK: i32 = 1;
const PARTITION_LOCK: i32 = 2;
const LOCK_BASE: i32 = 100;

/// How many rows a scan reads at first; each further page doubles, up to [`PAGE_MAX`], so that
/// reading the first entry is cheap and reading a whole table is few round trips.
const PAGE_FIRST: i64 = 64;
const PAGE_MAX: i64 = 4096;

pub(crate) struct PgBackend {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Arc<Pool>,
    schema: String,
    ids: Mutex<(u64, u64)>,
    /// One holder per process at a time asks the database for each lock.
    locks: [Mutex<()>; Lock::COUNT],
    /// The monthly partitions this process made or found, by table and month.
    partitions: Mutex<std::collections::HashSet<(TreeId, String)>>,
    /// Statements sent for reads and writes, and the time callers waited for their answers: the
    /// database's share of a workload, for benchmarks' profiles.
    statements: std::sync::atomic::AtomicU64,
    waiting_micros: std::sync::atomic::AtomicU64,
}

impl PgBackend {
    /// Connects, creates the schema or brings it up to date, and checks that no newer build
    /// wrote it.
    pub(crate) fn open(target: Target, limits: PoolLimits) -> Result<PgBackend, StorageError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baton-postgres")
            .enable_all()
            .build()
            .map_err(|e| StorageError::Database(format!("starting the PostgreSQL client: {e}")))?;
        let pool = Arc::new(Pool {
            target: target.clone(),
            handle: runtime.handle().clone(),
            limits,
            state: Mutex::new(PoolState { idle: Vec::new(), open: 0 }),
            freed: Condvar::new(),
        });
        let backend = PgBackend {
            runtime: Some(runtime),
            pool,
            schema: target.schema.clone(),
            ids: Mutex::new((0, 0)),
            locks: Default::default(),
            partitions: Default::default(),
            statements: Default::default(),
            waiting_micros: Default::default(),
        };
        backend.migrate(&target)?;
        Ok(backend)
    }

    fn migrate(&self, target: &Target) -> Result<(), StorageError> {
        let schema = &self.schema;
        let all = migrations(schema);
        let supported = all.len() as u32;
        let mut conn = self.pool.get()?;
        let client = &mut conn.conn_mut()?.client;
        wait(async {
            let tx = client.transaction().await?;
            // `IF NOT EXISTS` on an existing schema is the common case, not news.
            tx.batch_execute("SET LOCAL client_min_messages = warning").await?;
            // Workers starting at once queue here; the first applies what is missing, the others
            // find it applied.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1), $2)", &[schema, &MIGRATION_LOCK]).await?;
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                     version integer PRIMARY KEY,
                     description text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now())"
            ))
            .await?;
            let row = tx
                .query_one(&format!("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations"), &[])
                .await?;
            let found: i32 = row.get(0);
            if found as u32 > supported {
                return Ok(Err(StorageError::NewerSchema {
                    path: target.shown.clone(),
                    found: found as u32,
                    supported,
                }));
            }
            for (at, (description, sql)) in all.iter().enumerate() {
                let version = at as i32 + 1;
                if version <= found {
                    continue;
                }
                tx.batch_execute(sql).await?;
                tx.execute(
                    &format!("INSERT INTO {schema}.schema_migrations (version, description) VALUES ($1, $2)"),
                    &[&version, description],
                )
                .await?;
                tracing::info!(store = %target.shown, version, migration = %description, "Schema migration applied.");
            }
            tx.commit().await?;
            Ok(Ok(()))
        })
        .map_err(|e| db_error("migrating the schema", &e))?
    }

    /// Writes each table's rows and removals in one transaction, having first locked the rows
    /// of `present` (`FOR UPDATE`); if one of them is gone, writes nothing and answers `false`.
    /// The outer error is the pool's; the inner, the database's answer, which the caller may act
    /// on.
    fn write_tables(
        &self,
        present: &[(TreeId, &[u8])],
        per_table: &[TableWrites<'_>],
    ) -> Result<Result<bool, tokio_postgres::Error>, StorageError> {
        let mut pooled = self.pool.get()?;
        let Conn { client, statements } = pooled.conn_mut()?;
        let started = std::time::Instant::now();
        let mut sent = 2;
        let written = wait(async {
            let tx = client.transaction().await?;
            let mut trees: Vec<TreeId> = present.iter().map(|(tree, _)| *tree).collect();
            trees.sort();
            trees.dedup();
            for tree in trees {
                let mut keys: Vec<&[u8]> =
                    present.iter().filter(|(t, _)| *t == tree).map(|(_, key)| *key).collect();
                keys.sort_unstable();
                keys.dedup();
                // In key order, so that two writers locking the same rows queue instead of
                // deadlocking.
                let sql = format!(
                    "SELECT k FROM {} WHERE k = ANY($1::bytea[]) ORDER BY k FOR UPDATE",
                    self.table(tree)
                );
                let lock = statements.prepared(&tx, &sql).await?;
                sent += 1;
                if tx.query(&lock, &[&keys]).await?.len() < keys.len() {
                    // Dropping the transaction rolls it back.
                    return Ok(false);
                }
            }
            sent += self.write_in(&tx, statements, per_table).await?;
            tx.commit().await?;
            Ok(true)
        });
        self.waited(sent, started);
        Ok(written)
    }

    /// Sends each table's upsert and delete inside `tx`; returns how many statements it sent.
    async fn write_in(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        statements: &mut Statements,
        per_table: &[TableWrites<'_>],
    ) -> Result<u64, tokio_postgres::Error> {
        let mut sent = 0;
        for table in per_table {
            let name = self.table(table.tree);
            let layout = Layout::of(table.tree);
            if !table.keys.is_empty() {
                let upsert = statements.prepared(tx, &layout.upsert(&name)).await?;
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![&table.keys, &table.values];
                if layout.has_profile() {
                    params.push(&table.profiles);
                }
                if layout.partitioned() {
                    params.push(&table.times);
                }
                tx.execute(&upsert, &params).await?;
                sent += 1;
            }
            if !table.removed.is_empty() {
                let delete = statements
                    .prepared(tx, &format!("DELETE FROM {name} WHERE k = ANY($1::bytea[])"))
                    .await?;
                tx.execute(&delete, &[&table.removed]).await?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Writes a write set, making the monthly partitions it needs, if the rows of `present` are
    /// all there (see [`Backend::apply_if_present`]).
    fn write(&self, present: &[(TreeId, &[u8])], writes: &[Write<'_>]) -> Result<bool, StorageError> {
        let per_table = by_table(writes)?;
        for table in &per_table {
            self.ensure_partitions(table.tree, &table.times)?;
        }
        match self.write_tables(present, &per_table)? {
            // Another worker dropped a month this process had made (retention): make it again.
            Err(err) if err.code() == Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION) => {
                tracing::debug!(error = %err, "A month's partition was gone; making it again.");
                let mut known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
                known.retain(|(tree, _)| !per_table.iter().any(|t| t.tree == *tree));
                drop(known);
                for table in &per_table {
                    self.ensure_partitions(table.tree, &table.times)?;
                }
                self.write_tables(present, &per_table)?.map_err(|e| db_error("writing", &e))
            }
            other => other.map_err(|e| db_error("writing", &e)),
        }
    }

    /// Counts `statements` sent and the time since `started` as spent waiting on the database.
    fn waited(&self, statements: u64, started: std::time::Instant) {
        self.statements.fetch_add(statements, std::sync::atomic::Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.waiting_micros.fetch_add(micros, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the monthly partitions of `tree` that rows at `times` go to, where missing. Workers
    /// making the same partition at once take turns under an advisory lock.
    fn ensure_partitions(&self, tree: TreeId, times: &[i64]) -> Result<(), StorageError> {
        if times.is_empty() {
            return Ok(());
        }
        let table = self.table(tree);
        let mut missing = Vec::new();
        {
            let known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
            for at in times {
                if let Some(month) = layout::month_of(*at) {
                    if !known.contains(&(tree, month.0.clone())) && !missing.contains(&month) {
                        missing.push(month);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.get()?;
        let client = &mut conn.conn_mut()?.client;
        let schema = &self.schema;
        wait(async {
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL client_min_messages = warning").await?;
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1), $2)", &[schema, &PARTITION_LOCK]).await?;
            for month in &missing {
                tx.batch_execute(&layout::partition(&table, month)).await?;
            }
            tx.commit().await
        })
        .map_err(|e| db_error(&format!("making the monthly partitions of {table}"), &e))?;
        let mut known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        known.extend(missing.into_iter().map(|month| (tree, month.0)));
        Ok(())
    }

    /// The channel this store's announcements go out on.
    fn channel(&self) -> String {
        format!("{}_changes", self.schema)
    }

    fn table(&self, tree: TreeId) -> String {
        format!("{}.{}", self.schema, tree.name())
    }

    /// Runs one statement on a pooled connection and returns its rows.
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StorageError> {
        let mut conn = self.pool.get()?;
        let conn = conn.conn_mut()?;
        let statement = conn.prepare(sql)?;
        let started = std::time::Instant::now();
        let rows = wait(conn.client.query(&statement, params)).map_err(|e| db_error(sql, &e));
        self.waited(1, started);
        rows
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        // Idle connections close with their client; the runtime's threads are let go without
        // waiting, which is allowed from inside an async context too.
        if let Ok(mut state) = self.pool.state.lock() {
            state.idle.clear();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Backend for PgBackend {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        let (filter, params) = point(Layout::of(tree), key);
        let sql = format!("SELECT v FROM {} WHERE {filter}", self.table(tree));
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
        let rows = self.query(&sql, &params)?;
        Ok(rows.first().map(|row| Bytes::Owned(row.get(0))))
    }

    fn get_many(&self, tree: TreeId, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StorageError> {
        if keys.len() < 2 {
            return keys.iter().map(|key| self.get(tree, key)).collect();
        }
        let layout = Layout::of(tree);
        let wanted: Vec<&[u8]> = keys.to_vec();
        let mut sql = format!("SELECT k, v FROM {} WHERE k = ANY($1)", self.table(tree));
        let mut numbers: Vec<Vec<i64>> = Vec::new();
        // As `point` does for one key: the profiles (for Citus) and months (for partition
        // pruning) the keys name, when every key names one.
        let derived = [
            ("profile_id", keys.iter().map(|key| layout.profile(key)).collect::<Option<Vec<i64>>>()),
            ("at", keys.iter().map(|key| layout.time_from_key(key)).collect::<Option<Vec<i64>>>()),
        ];
        for (column, values) in derived {
            if let Some(values) = values {
                numbers.push(values);
                sql.push_str(&format!(" AND {column} = ANY(${})", numbers.len() + 1));
            }
        }
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&wanted];
        params.extend(numbers.iter().map(|n| n as &(dyn ToSql + Sync)));
        let rows = self.query(&sql, &params)?;
        let found: std::collections::HashMap<Vec<u8>, Vec<u8>> =
            rows.into_iter().map(|row| (row.get(0), row.get(1))).collect();
        Ok(keys.iter().map(|key| found.get(*key).map(|v| Bytes::Owned(v.clone()))).collect())
    }

    fn scan_many(
        &self,
        tree: TreeId,
        ranges: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<Vec<Vec<Entry>>, StorageError> {
        if ranges.len() < 2 {
            return scan_each(self, tree, ranges);
        }
        let layout = Layout::of(tree);
        let lowers: Vec<&[u8]> = ranges.iter().map(|(lower, _)| lower.as_slice()).collect();
        let uppers: Vec<&[u8]> = ranges.iter().map(|(_, upper)| upper.as_slice()).collect();
        // The profiles each range can hold, as `Scan` derives them (one, for a profile's range).
        let first: Vec<i64> = ranges.iter().map(|(lower, _)| lower_profile(lower)).collect();
        let last: Vec<i64> = ranges.iter().map(|(_, upper)| upper_profile(upper, false)).collect();
        // Within one profile's events, a key at or past the lower bound is at or past its time:
        // a condition on the partition column, so each page skips the months before the window.
        let since: Vec<i64> = ranges
            .iter()
            .zip(first.iter().zip(&last))
            .map(|((lower, _), (a, b))| {
                (layout == Layout::Events && a == b)
                    .then(|| layout.time_from_key(lower))
                    .flatten()
                    .unwrap_or(i64::MIN)
            })
            .collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&lowers, &uppers];
        let (arrays, columns, profile) = if layout.has_profile() {
            params.push(&first);
            params.push(&last);
            params.push(&since);
            (
                "$1::bytea[], $2::bytea[], $3::int8[], $4::int8[], $5::int8[]",
                "lo, hi, first, last, since, n",
                if layout == Layout::Events {
                    " AND t.profile_id >= r.first AND t.profile_id <= r.last AND t.at >= r.since"
                } else {
                    " AND t.profile_id >= r.first AND t.profile_id <= r.last"
                },
            )
        } else {
            ("$1::bytea[], $2::bytea[]", "lo, hi, n", "")
        };
        let sql = format!(
            "SELECT r.n, t.k, t.v FROM unnest({arrays}) WITH ORDINALITY AS r({columns}) \
             JOIN {} t ON t.k >= r.lo AND t.k < r.hi{profile} ORDER BY r.n, t.k",
            self.table(tree)
        );
        let rows = self.query(&sql, &params)?;
        let mut out: Vec<Vec<Entry>> = vec![Vec::new(); ranges.len()];
        for row in rows {
            let n: i64 = row.get(0);
            let slot = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)).ok_or_else(|| {
                StorageError::Database(format!("PostgreSQL answered range {n} of {}", ranges.len()))
            })?;
            slot.push((Bytes::Owned(row.get(1)), Bytes::Owned(row.get(2))));
        }
        Ok(out)
    }

    fn scan<'a>(
        &'a self,
        tree: TreeId,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<Entry, StorageError>> + 'a> {
        Box::new(Scan {
            backend: self,
            table: self.table(tree),
            layout: Layout::of(tree),
            lower,
            upper,
            reverse,
            page: PAGE_FIRST,
            buffered: std::collections::VecDeque::new(),
            done: false,
        })
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.apply(&[(tree, key, Some(value))])
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        let (filter, params) = point(Layout::of(tree), key);
        let sql = format!("DELETE FROM {} WHERE {filter} RETURNING v", self.table(tree));
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
        let rows = self.query(&sql, &params)?;
        Ok(rows.first().map(|row| Bytes::Owned(row.get(0))))
    }

    fn apply(&self, writes: &[Write<'_>]) -> Result<(), StorageError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.write(&[], writes).map(|_| ())
    }

    fn apply_if_present(
        &self,
        present: &[(TreeId, &[u8])],
        writes: &[Write<'_>],
    ) -> Result<bool, StorageError> {
        self.write(present, writes)
    }

    fn claim(
        &self,
        tree: TreeId,
        before: &[u8],
        limit: usize,
        plan: &mut ClaimPlan<'_>,
    ) -> Result<(), StorageError> {
        // Rows another worker's claim holds are skipped, not waited for: each worker takes the
        // next due rows no one else is taking. The rows stay locked until the plan's writes
        // (which move them) commit, so no one takes them in between.
        let sql = format!(
            "SELECT k, v FROM {} WHERE k < $1 ORDER BY k LIMIT $2 FOR UPDATE SKIP LOCKED",
            self.table(tree)
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let claiming =
            |e: tokio_postgres::Error| db_error(&format!("claiming from {}", self.table(tree)), &e);
        let mut pooled = self.pool.get()?;
        let Conn { client, statements } = pooled.conn_mut()?;
        let started = std::time::Instant::now();
        let tx = wait(client.transaction()).map_err(claiming)?;
        let due: Vec<Entry> = wait(async {
            let select = statements.prepared(&tx, &sql).await?;
            tx.query(&select, &[&before, &limit]).await
        })
        .map_err(claiming)?
        .iter()
        .map(|row| (Bytes::Owned(row.get(0)), Bytes::Owned(row.get(1))))
        .collect();
        // An error in the plan drops the transaction, which rolls it back.
        let writes = plan(&due)?;
        if due.is_empty() {
            self.waited(2, started);
            return Ok(());
        }
        let writes = borrowed(&writes);
        let per_table = by_table(&writes)?;
        for table in &per_table {
            self.ensure_partitions(table.tree, &table.times)?;
        }
        let sent = wait(async {
            let sent = self.write_in(&tx, statements, &per_table).await?;
            tx.commit().await?;
            Ok(sent)
        })
        .map_err(claiming)?;
        self.waited(3 + sent, started);
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StorageError> {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.0 == ids.1 {
            let rows = self.query(&format!("SELECT nextval('{}.ids')", self.schema), &[])?;
            let start: i64 = rows.first().map(|r| r.get(0)).unwrap_or(1);
            *ids = (start as u64, start as u64 + ID_BLOCK);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    fn count(&self, tree: TreeId) -> Result<usize, StorageError> {
        let rows = self.query(&format!("SELECT count(*) FROM {}", self.table(tree)), &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as usize))
    }

    fn durable(&self) -> Result<(), StorageError> {
        // Every write is a committed transaction, durable when the server answered.
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn lock(&self, lock: Lock) -> Result<WriterGuard<'_>, StorageError> {
        let local = self.locks[lock as usize].lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = self.pool.get()?;
        let held = conn.conn_mut()?;
        let statement = held.prepare("SELECT pg_advisory_lock(hashtext($1), $2)")?;
        let key = LOCK_BASE + lock as i32;
        wait(held.client.execute(&statement, &[&self.schema, &key]))
            .map_err(|e| db_error(&format!("taking the {lock:?} lock"), &e))?;
        Ok(WriterGuard::new(AdvisoryLock { conn, schema: self.schema.clone(), key, _local: local }))
    }

    fn try_lock(&self, lock: Lock) -> Result<Option<WriterGuard<'_>>, StorageError> {
        let local = match self.locks[lock as usize].try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        };
        let mut conn = self.pool.get()?;
        let held = conn.conn_mut()?;
        let statement = held.prepare("SELECT pg_try_advisory_lock(hashtext($1), $2)")?;
        let key = LOCK_BASE + lock as i32;
        let taken: bool = wait(held.client.query_one(&statement, &[&self.schema, &key]))
            .map_err(|e| db_error(&format!("taking the {lock:?} lock"), &e))?
            .get(0);
        Ok(taken.then(|| {
            WriterGuard::new(AdvisoryLock { conn, schema: self.schema.clone(), key, _local: local })
        }))
    }

    fn announce(&self, change: &str) -> Result<(), StorageError> {
        self.query("SELECT pg_notify($1, $2)", &[&self.channel(), &change])?;
        Ok(())
    }

    fn follow(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let runtime = self.runtime.as_ref()?;
        runtime.spawn(listen(self.pool.target.config.clone(), self.channel(), sender));
        Some(receiver)
    }

    fn drop_event_months(
        &self,
        cutoff: i64,
        going: &mut dyn FnMut(&[i64]) -> Result<(), StorageError>,
    ) -> Result<Option<usize>, StorageError> {
        let schema = &self.schema;
        let partitions = self.query(
            "SELECT c.relname FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent \
             JOIN pg_namespace n ON n.oid = p.relnamespace \
             WHERE n.nspname = $1 AND p.relname = $2 ORDER BY c.relname",
            &[schema, &TreeId::Events.name()],
        )?;
        let mut dropped = 0;
        for row in partitions {
            let name: String = row.get(0);
            let Some(suffix) = name.strip_prefix(&format!("{}_", TreeId::Events.name())) else { continue };
            let Some((_, end)) = layout::month_named(suffix) else { continue };
            if end > cutoff {
                continue;
            }
            // The profiles whose events go, for the segments that read events to judge again.
            let partition = format!("{schema}.{name}");
            let mut after = -1i64;
            loop {
                let rows = self.query(
                    &format!(
                        "SELECT DISTINCT profile_id FROM {partition} WHERE profile_id > $1 ORDER BY profile_id LIMIT 10000"
                    ),
                    &[&after],
                )?;
                let profiles: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                let Some(last) = profiles.last() else { break };
                after = *last;
                going(&profiles)?;
            }
            let count = self.query(&format!("SELECT count(*) FROM {partition}"), &[])?;
            dropped += count.first().map_or(0, |r| r.get::<_, i64>(0) as usize);
            let tables: Vec<String> =
                layout::BY_MONTH.iter().map(|t| format!("{schema}.{}_{suffix}", t.name())).collect();
            let mut conn = self.pool.get()?;
            let client = &mut conn.conn_mut()?.client;
            wait(async {
                let tx = client.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock(hashtext($1), $2)", &[schema, &PARTITION_LOCK])
                    .await?;
                tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", tables.join(", "))).await?;
                tx.commit().await
            })
            .map_err(|e| db_error(&format!("dropping {suffix} of the events"), &e))?;
            let mut known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
            known.retain(|(_, month)| month != suffix);
            tracing::info!(month = %suffix, events = dropped, "Dropped a month of events past retention.");
        }
        Ok(Some(dropped))
    }

    fn database_time(&self) -> Option<(u64, Duration)> {
        let statements = self.statements.load(std::sync::atomic::Ordering::Relaxed);
        let micros = self.waiting_micros.load(std::sync::atomic::Ordering::Relaxed);
        Some((statements, Duration::from_micros(micros)))
    }

    fn pool_usage(&self) -> Option<(usize, usize, usize)> {
        let (open, busy) = self.pool.usage();
        Some((open, busy, self.pool.limits.max_connections))
    }

    fn local_db(&self) -> Option<&sled::Db> {
        None
    }
}

/// A write set's writes by table, each table's in one part.
fn by_table<'w>(writes: &[Write<'w>]) -> Result<Vec<TableWrites<'w>>, StorageError> {
    let mut per_table: Vec<TableWrites<'w>> = Vec::new();
    for (tree, key, value) in writes {
        let at = match per_table.iter().position(|t| t.tree == *tree) {
            Some(at) => at,
            None => {
                per_table.push(TableWrites::new(*tree));
                per_table.len() - 1
            }
        };
        per_table[at].add(key, *value)?;
    }
    Ok(per_table)
}

/// One table's part of a write set: the rows to upsert with their derived columns, and the keys
/// to remove.
struct TableWrites<'w> {
    tree: TreeId,
    keys: Vec<&'w [u8]>,
    values: Vec<&'w [u8]>,
    profiles: Vec<i64>,
    times: Vec<i64>,
    removed: Vec<&'w [u8]>,
}

impl<'w> TableWrites<'w> {
    fn new(tree: TreeId) -> Self {
        TableWrites {
            tree,
            keys: Vec::new(),
            values: Vec::new(),
            profiles: Vec::new(),
            times: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn add(&mut self, key: &'w [u8], value: Option<&'w [u8]>) -> Result<(), StorageError> {
        let Some(value) = value else {
            self.removed.push(key);
            return Ok(());
        };
        let layout = Layout::of(self.tree);
        if let Some(profile) = layout.profile(key) {
            self.profiles.push(profile);
        }
        if layout.partitioned() {
            let at = layout.time(key, Some(value)).ok_or_else(|| StorageError::Corrupt {
                what: format!("{} key", self.tree.name()),
                reason: "no time where the layout keeps it".into(),
            })?;
            self.times.push(at);
        }
        self.keys.push(key);
        self.values.push(value);
        Ok(())
    }
}

/// A parameter of a point read: a key or a derived column.
enum Param<'k> {
    Key(&'k [u8]),
    Number(i64),
}

impl Param<'_> {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Key(key) => key,
            Param::Number(n) => n,
        }
    }
}

/// The condition that finds one key's row, naming its profile (so that Citus asks one shard)
/// and its month (so that PostgreSQL reads one partition) where the key tells them.
fn point(layout: Layout, key: &[u8]) -> (String, Vec<Param<'_>>) {
    let mut filter = "k = $1".to_owned();
    let mut params = vec![Param::Key(key)];
    if let Some(profile) = layout.profile(key) {
        params.push(Param::Number(profile));
        filter.push_str(&format!(" AND profile_id = ${}", params.len()));
    }
    if let Some(at) = layout.time_from_key(key) {
        params.push(Param::Number(at));
        filter.push_str(&format!(" AND at = ${}", params.len()));
    }
    (filter, params)
}

/// Listens on `channel` on a connection of its own and passes each announcement on, until the
/// receiver is dropped. A lost connection is made again (after a second, so a database that is
/// down is not hammered), followed by [`RESYNC`]: what was announced meanwhile is lost.
async fn listen(
    config: tokio_postgres::Config,
    channel: String,
    sender: tokio::sync::mpsc::UnboundedSender<String>,
) {
    use futures_util::StreamExt;
    let mut first = true;
    while !sender.is_closed() {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        first = false;
        let (client, mut connection) = match config.connect(NoTls).await {
            Ok(connected) => connected,
            Err(err) => {
                tracing::warn!(error = %err, "Cannot listen for other workers' changes; retrying.");
                continue;
            }
        };
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let (notes, mut noted) = tokio::sync::mpsc::unbounded_channel();
        let pump = tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(note)) => {
                        let _ = notes.send(note.payload().to_owned());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        if let Err(err) = client.batch_execute(&format!("LISTEN {channel}")).await {
            tracing::warn!(error = %err, "Cannot listen for other workers' changes; retrying.");
            pump.abort();
            continue;
        }
        if sender.send(RESYNC.to_owned()).is_err() {
            pump.abort();
            return;
        }
        loop {
            tokio::select! {
                note = noted.recv() => match note {
                    Some(note) => if sender.send(note).is_err() { pump.abort(); return; },
                    // The connection ended.
                    None => break,
                },
                _ = sender.closed() => { pump.abort(); return; }
            }
        }
        tracing::warn!("Lost the connection that listens for other workers' changes; reconnecting.");
    }
}

/// A lock held in the database, released when dropped (or by the server if the worker dies).
struct AdvisoryLock<'a> {
    conn: Pooled,
    schema: String,
    key: i32,
    _local: std::sync::MutexGuard<'a, ()>,
}

impl Drop for AdvisoryLock<'_> {
    fn drop(&mut self) {
        let (schema, key) = (&self.schema, &self.key);
        let released = self.conn.conn_mut().and_then(|conn| {
            let statement = conn.prepare("SELECT pg_advisory_unlock(hashtext($1), $2)")?;
            wait(conn.client.execute(&statement, &[schema, key]))
                .map_err(|e| db_error("releasing a lock", &e))
        });
        if let Err(err) = released {
            // A lock that cannot be released must not stay with a pooled connection.
            tracing::error!(error = %err, "Could not release a lock; closing its connection.");
            self.conn.discard();
        }
    }
}

/// A lazy, paged range scan: each page continues after the last key of the one before.
struct Scan<'a> {
    backend: &'a PgBackend,
    table: String,
    layout: Layout,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    page: i64,
    buffered: std::collections::VecDeque<Entry>,
    done: bool,
}

impl Scan<'_> {
    fn fetch(&mut self) -> Result<(), StorageError> {
        // On tables keyed by profile, the profiles the key range can hold, as a condition on the
        // distribution column: within one profile, an equality that Citus routes to one shard.
        let low = match &self.lower {
            Bound::Included(k) | Bound::Excluded(k) => lower_profile(k),
            Bound::Unbounded => 0,
        };
        let high = match &self.upper {
            Bound::Included(k) => upper_profile(k, true),
            Bound::Excluded(k) => upper_profile(k, false),
            Bound::Unbounded => i64::MAX,
        };
        let mut conditions = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (bound, below) in [(&self.lower, false), (&self.upper, true)] {
            let (op, key) = match (bound, below) {
                (Bound::Included(k), false) => (">=", k),
                (Bound::Excluded(k), false) => (">", k),
                (Bound::Included(k), true) => ("<=", k),
                (Bound::Excluded(k), true) => ("<", k),
                (Bound::Unbounded, _) => continue,
            };
            params.push(key);
            conditions.push(format!("k {op} ${}", params.len()));
        }
        if self.layout.has_profile() {
            if low == high {
                params.push(&low);
                conditions.push(format!("profile_id = ${}", params.len()));
            } else {
                params.push(&low);
                conditions.push(format!("profile_id >= ${}", params.len()));
                params.push(&high);
                conditions.push(format!("profile_id <= ${}", params.len()));
            }
        }
        params.push(&self.page);
        let filter =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let order = if self.reverse { "DESC" } else { "ASC" };
        let sql =
            format!("SELECT k, v FROM {} {filter} ORDER BY k {order} LIMIT ${}", self.table, params.len());
        let rows = self.backend.query(&sql, &params)?;
        if (rows.len() as i64) < self.page {
            self.done = true;
        }
        self.page = (self.page * 2).min(PAGE_MAX);
        for row in rows {
            self.buffered.push_back((Bytes::Owned(row.get(0)), Bytes::Owned(row.get(1))));
        }
        if let Some((last, _)) = self.buffered.back() {
            let after = Bound::Excluded(last.to_vec());
            if self.reverse {
                self.upper = after;
            } else {
                self.lower = after;
            }
        }
        Ok(())
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Entry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffered.is_empty() && !self.done {
            if let Err(err) = self.fetch() {
                self.done = true;
                return Some(Err(err));
            }
        }
        self.buffered.pop_front().map(Ok)
    }
}
