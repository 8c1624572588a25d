//! The records: one table of requests, on SQLite or PostgreSQL through sqlx's `Any` driver, with
//! one set of migrations (`migrations/`, portable SQL). Every query binds its values; none is
//! built from text. Every state change is one conditional `UPDATE`, so a decision is recorded
//! once or not at all, whatever crashes or races.

use std::path::Path;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};

use crate::config::Database;

/// The migrations, embedded: the same files for both databases.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A database failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Connecting failed.
    #[error("cannot open the database ({what}): {source}")]
    Connect {
        /// The database, without a password.
        what: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the migrations failed.
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// `backup` on PostgreSQL.
    #[error("online backup of PostgreSQL is pg_dump's job: pg_dump --format=custom --file=FILE DBNAME (see docs/admin-guide.md)")]
    BackupPostgres,
    /// The backup file exists.
    #[error("{0} already exists; refusing to overwrite it: choose another file name")]
    BackupExists(String),
}

/// Whose word the requester's identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// What the desktop's Gatehouse host reported; nothing verified it.
    Reported,
    /// Authenticated by the domain (Kerberos/SPNEGO).
    Kerberos,
}

impl IdentitySource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Kerberos => "kerberos",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "kerberos" {
            Self::Kerberos
        } else {
            Self::Reported
        }
    }

    /// How approvers see it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Reported => "reported by the desktop, not verified",
            Self::Kerberos => "authenticated by the domain (Kerberos)",
        }
    }
}

/// A request as accepted, before any decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The desk's id.
    pub id: String,
    /// The block page's `requestId`.
    pub client_request_id: String,
    /// When it arrived (ms).
    pub created_ms: i64,
    /// The principal.
    pub principal: Option<String>,
    /// The OS account.
    pub os_user: Option<String>,
    /// The machine.
    pub machine: String,
    /// Whose word the identity is.
    pub identity_source: IdentitySource,
    /// The service id.
    pub service: String,
    /// Its category.
    pub category: String,
    /// The blocked origin.
    pub origin: Option<String>,
    /// The business reason.
    pub justification: String,
    /// Days asked for.
    pub days_requested: i64,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for an approver.
    Pending,
    /// Approved: the token, its id and end.
    Approved {
        /// The signed token.
        token: String,
        /// Its `jti`.
        jti: String,
        /// The key that signed it.
        kid: String,
        /// Its `exp`, in ms.
        expires_ms: i64,
        /// Days granted.
        days: i64,
        /// When and by whom it was revoked.
        revoked: Option<(i64, String)>,
    },
    /// Denied, with the approver's reason.
    Denied {
        /// The reason.
        reason: String,
    },
}

/// A stored request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What was asked.
    pub request: NewRequest,
    /// Where it stands.
    pub state: State,
    /// When and by whom it was decided.
    pub decided: Option<(i64, String)>,
}

/// What storing a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored under the given id.
    New,
    /// The same request was already stored (a retry): its id.
    Existing(String),
    /// Another request already has this `requestId`.
    Conflict,
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Recorded.
    Done,
    /// Nothing changed: no such request, or no longer in the state the change needs.
    NotApplicable,
}

/// An approval to record (built and signed by the desk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The approver.
    pub by: String,
    /// When (ms).
    pub at_ms: i64,
    /// Days granted.
    pub days: i64,
    /// The token's `jti`.
    pub jti: String,
    /// The signing key's id.
    pub kid: String,
    /// The token.
    pub token: String,
    /// Its `exp` in ms.
    pub expires_ms: i64,
}

const COLUMNS: &str = "id, client_request_id, created_ms, principal, os_user, machine, \
    identity_source, service, category, origin, justification, days_requested, state, \
    decided_ms, decided_by, reason, days_granted, jti, kid, token, expires_ms, revoked_ms, \
    revoked_by";

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    sqlite: bool,
}

impl Store {
    /// Connects and brings the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Connect`] or [`StoreError::Migrate`].
    pub async fn open(database: &Database) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = matches!(database, Database::Sqlite(_));
        // SQLite writes one at a time whatever the pool; a few connections serve the readers
        // (sqlx gives each a 5 s busy timeout).
        let max = if sqlite { 4 } else { 10 };
        let connect_error = |source| StoreError::Connect { what: database.describe(), source };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect(&database.url())
            .await
            .map_err(connect_error)?;
        if sqlite {
            // sqlx leaves SQLite's rollback journal unless asked, under which every write locks
            // the readers out while it syncs several times: a busy desk's status polls waited
            // behind each new request (benches/load.rs at 1,000 mixed requests/s: p99 50–120 ms;
            // with WAL 2–3 ms). WAL lets readers go on and syncs once per commit; synchronous
            // stays FULL, so a decision survives a power cut. The mode is kept in the file; the
            // pool holds one connection here, so no other can hold the lock the switch needs.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await.map_err(connect_error)?;
        }
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, sqlite })
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A trivial query, for `/healthz`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Stores a new request; a retry of the same request returns the first one's id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn insert(&self, r: &NewRequest) -> Result<Inserted, StoreError> {
        let done = sqlx::query(
            "INSERT INTO requests (id, client_request_id, created_ms, principal, os_user, \
             machine, identity_source, service, category, origin, justification, \
             days_requested, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending') \
             ON CONFLICT (client_request_id) DO NOTHING",
        )
        .bind(&r.id)
        .bind(&r.client_request_id)
        .bind(r.created_ms)
        .bind(&r.principal)
        .bind(&r.os_user)
        .bind(&r.machine)
        .bind(r.identity_source.as_str())
        .bind(&r.service)
        .bind(&r.category)
        .bind(&r.origin)
        .bind(&r.justification)
        .bind(r.days_requested)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Inserted::New);
        }
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE client_request_id = $1");
        let row = sqlx::query(&sql).bind(&r.client_request_id).fetch_optional(&self.pool).await?;
        let Some(existing) = row.map(|row| record(&row)).transpose()? else {
            return Ok(Inserted::Conflict);
        };
        // The same content is a retry by the same desktop; anything else is not.
        let same = NewRequest {
            id: existing.request.id.clone(),
            created_ms: existing.request.created_ms,
            ..r.clone()
        } == existing.request;
        Ok(if same { Inserted::Existing(existing.request.id) } else { Inserted::Conflict })
    }

    /// One request by the desk's id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|row| record(&row)).transpose()?)
    }

    /// Requests in a state, oldest first (at most `limit`).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn list(&self, state: &str, limit: i64) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE state = $1 ORDER BY created_ms, id LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(state).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    /// Every request, newest first (at most `limit`): the history.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn history(&self, limit: i64) -> Result<Vec<Record>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM requests ORDER BY created_ms DESC, id LIMIT $1");
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    /// Records an approval of a pending request; a request already decided is left as it is.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn approve(&self, id: &str, grant: &Grant) -> Result<Changed, StoreError> {
        let done = sqlx::query(
            "UPDATE requests SET state = 'approved', decided_ms = $2, decided_by = $3, \
             days_granted = $4, jti = $5, kid = $6, token = $7, expires_ms = $8 \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(grant.at_ms)
        .bind(&grant.by)
        .bind(grant.days)
        .bind(&grant.jti)
        .bind(&grant.kid)
        .bind(&grant.token)
        .bind(grant.expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(changed(done.rows_affected()))
    }

    /// Records a denial of a pending request.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn deny(
        &self,
        id: &str,
        by: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<Changed, StoreError> {
        let done = sqlx::query(
            "UPDATE requests SET state = 'denied', decided_ms = $2, decided_by = $3, reason = $4 \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(at_ms)
        .bind(by)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(changed(done.rows_affected()))
    }

    /// Revokes an approval (once; a revocation is never undone).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn revoke(&self, id: &str, by: &str, at_ms: i64) -> Result<Changed, StoreError> {
        let done = sqlx::query(
            "UPDATE requests SET revoked_ms = $2, revoked_by = $3 \
             WHERE id = $1 AND state = 'approved' AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(at_ms)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(changed(done.rows_affected()))
    }

    /// The `jti`s of revoked approvals that have not yet expired at `now_ms`, sorted.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn revoked_jtis(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti FROM requests WHERE revoked_ms IS NOT NULL AND expires_ms > $1 \
             ORDER BY jti",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.try_get::<String, _>("jti")).collect::<Result<_, _>>()?)
    }

    /// Counts per state (`pending`, `approved`, `denied`).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM requests GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("state")?, r.try_get::<i64, _>("n")?)))
            .collect()
    }

    /// The compliance overview's figures at `now_ms`, counted by the database (`GROUP BY`,
    /// and the time-to-decision percentiles by `ORDER BY … LIMIT 1 OFFSET k` on an index), for
    /// `categories` (`None`: every category). The same figures as
    /// [`crate::overview::figures`] on every record, without reading the records.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn overview(
        &self,
        now_ms: i64,
        categories: Option<&[String]>,
    ) -> Result<crate::overview::Figures, StoreError> {
        use crate::overview::{WEEKS, WEEK_MS};
        // The scope: `AND category IN ($k, …)` with one bound parameter per category, numbered
        // after the query's own.
        let scope = |first: usize| match categories {
            None => String::new(),
            Some(list) => {
                let marks: Vec<String> =
                    (0..list.len()).map(|i| format!("${}", first + i)).collect();
                format!(" AND category IN ({})", marks.join(", "))
            }
        };
        let bind_scope = |q| bind_all(q, categories);
        // An empty scope decides nothing: `IN ()` is not SQL.
        if categories.is_some_and(<[String]>::is_empty) {
            return Ok(crate::overview::Figures::empty(now_ms));
        }
        let mut f = crate::overview::Figures::empty(now_ms);

        // COUNT(*) is BIGINT on PostgreSQL and INTEGER (64-bit) on SQLite: i64 on both. No SUM
        // (NUMERIC on PostgreSQL).
        // In force: only `approve` sets expires_ms, so no `state = 'approved'` — with it, and
        // with `revoked_ms IS NULL`, SQLite (no statistics) would walk requests_by_state or
        // requests_revoked over every approval ever made instead of the few unexpired ones on
        // requests_in_force. (COALESCE: revoked_ms is a time, never 0.)
        let sql = format!(
            "SELECT category, service, COUNT(*) AS n FROM requests \
             WHERE expires_ms > $1 AND COALESCE(revoked_ms, 0) = 0{} \
             GROUP BY category, service",
            scope(2)
        );
        for row in bind_scope(sqlx::query(&sql).bind(now_ms)).fetch_all(&self.pool).await? {
            let n = count(&row, "n")?;
            *f.by_category.entry(row.try_get("category")?).or_default() += n;
            *f.by_service.entry(row.try_get("service")?).or_default() += n;
        }

        let first_week = now_ms - WEEKS * WEEK_MS;
        let sql = format!(
            "SELECT (created_ms - $1) / $2 AS week, COUNT(*) AS n FROM requests \
             WHERE created_ms >= $1 AND created_ms <= $3{} GROUP BY week",
            scope(4)
        );
        let q = sqlx::query(&sql).bind(first_week).bind(WEEK_MS).bind(now_ms);
        for row in bind_scope(q).fetch_all(&self.pool).await? {
            let week: i64 = row.try_get("week")?;
            // A request made at exactly `now_ms` falls into week WEEKS, past the last.
            if let Some(w) = usize::try_from(week).ok().and_then(|w| f.per_week.get_mut(w)) {
                w.1 = count(&row, "n")?;
            }
        }

        // COUNT(decided_ms): the decided rows (not NULL), whatever their state.
        let sql = format!(
            "SELECT state, COUNT(*) AS n, COUNT(decided_ms) AS decided FROM requests \
             WHERE 1 = 1{} GROUP BY state",
            scope(1)
        );
        let mut decided = 0;
        for row in bind_scope(sqlx::query(&sql)).fetch_all(&self.pool).await? {
            let n = count(&row, "n")?;
            decided += count(&row, "decided")?;
            match row.try_get::<String, _>("state")?.as_str() {
                "approved" => f.decisions.0 = n,
                "denied" => f.decisions.1 = n,
                _ => f.decisions.2 += n,
            }
        }

        // The percentiles exactly as before (the wait at index len·p/100 of the sorted waits):
        // the count, then the one wait at each index, walked on requests_by_wait.
        if decided > 0 {
            let sql = format!(
                "SELECT decided_ms - created_ms AS wait FROM requests \
                 WHERE decided_ms IS NOT NULL{} ORDER BY decided_ms - created_ms LIMIT 1 OFFSET $1",
                scope(2)
            );
            let at = |p: u64| {
                let k = i64::try_from((decided * p / 100).min(decided - 1)).unwrap_or(i64::MAX);
                let sql = &sql;
                async move {
                    let row =
                        bind_scope(sqlx::query(sql).bind(k)).fetch_optional(&self.pool).await?;
                    row.map(|r| r.try_get::<i64, _>("wait")).transpose()
                }
            };
            if let (Some(median), Some(p90)) = (at(50).await?, at(90).await?) {
                f.time_to_decision = Some((median, p90));
            }
        }
        Ok(f)
    }

    /// Counts one request by `requester` at `now_ms` in its fixed window of `window_ms`
    /// (a new window once the last began that long ago); returns the count in the window. One
    /// atomic upsert, so concurrent requests and restarts count alike.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn count_request(
        &self,
        requester: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<i64, StoreError> {
        // Both databases evaluate every SET expression against the row as it was.
        let row = sqlx::query(
            "INSERT INTO rate_limits (requester, window_ms, n) VALUES ($1, $2, 1) \
             ON CONFLICT (requester) DO UPDATE SET \
             window_ms = CASE WHEN rate_limits.window_ms <= $3 THEN $2 ELSE rate_limits.window_ms END, \
             n = CASE WHEN rate_limits.window_ms <= $3 THEN 1 ELSE rate_limits.n + 1 END \
             RETURNING n",
        )
        .bind(requester)
        .bind(now_ms)
        .bind(now_ms - window_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Forgets rate-limit windows that began before `before_ms`.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn forget_rate_limits(&self, before_ms: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rate_limits WHERE window_ms <= $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An online, consistent copy of the SQLite database (`VACUUM INTO`): readers and writers
    /// carry on meanwhile. PostgreSQL is backed up with `pg_dump`.
    ///
    /// # Errors
    /// [`StoreError::BackupPostgres`], [`StoreError::BackupExists`] or [`StoreError::Query`].
    pub async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        if !self.sqlite {
            return Err(StoreError::BackupPostgres);
        }
        if to.exists() {
            return Err(StoreError::BackupExists(to.display().to_string()));
        }
        sqlx::query("VACUUM INTO $1").bind(to.display().to_string()).execute(&self.pool).await?;
        Ok(())
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds each of `categories` (the scope's `IN (…)` parameters) in order.
fn bind_all<'q>(mut q: AnyQuery<'q>, categories: Option<&[String]>) -> AnyQuery<'q> {
    for c in categories.into_iter().flatten() {
        q = q.bind(c.clone());
    }
    q
}

/// A `COUNT` column: BIGINT on PostgreSQL, INTEGER on SQLite — an i64 on both.
fn count(row: &AnyRow, column: &str) -> Result<u64, sqlx::Error> {
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

fn changed(rows: u64) -> Changed {
    if rows == 1 {
        Changed::Done
    } else {
        Changed::NotApplicable
    }
}

fn record(row: &AnyRow) -> Result<Record, sqlx::Error> {
    let s = |c: &str| row.try_get::<String, _>(c);
    let os = |c: &str| row.try_get::<Option<String>, _>(c);
    let oi = |c: &str| row.try_get::<Option<i64>, _>(c);
    let request = NewRequest {
        id: s("id")?,
        client_request_id: s("client_request_id")?,
        created_ms: row.try_get("created_ms")?,
        principal: os("principal")?,
        os_user: os("os_user")?,
        machine: s("machine")?,
        identity_source: IdentitySource::parse(&s("identity_source")?),
        service: s("service")?,
        category: s("category")?,
        origin: os("origin")?,
        justification: s("justification")?,
        days_requested: row.try_get("days_requested")?,
    };
    let state = match s("state")?.as_str() {
        "approved" => State::Approved {
            token: os("token")?.unwrap_or_default(),
            jti: os("jti")?.unwrap_or_default(),
            kid: os("kid")?.unwrap_or_default(),
            expires_ms: oi("expires_ms")?.unwrap_or_default(),
            days: oi("days_granted")?.unwrap_or_default(),
            revoked: oi("revoked_ms")?.zip(os("revoked_by")?),
        },
        "denied" => State::Denied { reason: os("reason")?.unwrap_or_default() },
        _ => State::Pending,
    };
    let decided = oi("decided_ms")?.zip(os("decided_by")?);
    Ok(Record { request, state, decided })
}
