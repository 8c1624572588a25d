//! The HTTP surface. Requesters' routes (what the extension calls):
//!
//! | route | what |
//! |---|---|
//! | `GET /healthz` | 200 `ok` when the database answers, else 503 |
//! | `POST /api/requests` | the block page's request record (JSON) → 201 `{id, status, statusUrl}` |
//! | `GET /api/revocations` | the revocation list: a JWS signed by the desk's key (`application/jose`), with an `ETag`; `If-None-Match` → 304 |
//! | `GET /api/requests/{id}` | `{status: pending}`, `{status: approved, token, expiresMs, days}`, `{status: denied, reason}` or `{status: revoked, revokedMs}` |
//!
//! The approvers' pages are [`crate::pages`]; the password sign-in fallback is [`crate::signin`].
//!
//! Errors are JSON `{"error": message, "field": name-or-null}` with a 4xx status that says
//! which kind (400 not JSON, 409 duplicate requestId, 413 too large, 415 not JSON content,
//! 422 a field's value, 429 too many requests).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{Approvers, Authenticate, Csrf};
use crate::desk::{is_id, Desk, Rejected};
use crate::mail::Mailer;
use crate::pages;
use crate::store::NewRequest;

/// Limits the routes enforce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body.
    pub max_body_bytes: usize,
    /// Requests per requester per hour.
    pub requests_per_hour: u32,
}

/// Who may use the approvers' pages.
#[derive(Debug)]
pub struct Access {
    /// How approvers are authenticated; `None`: the pages answer 503.
    pub auth: Option<Box<dyn Authenticate>>,
    /// Who may decide what, listed in the configuration.
    pub approvers: Approvers,
    /// Who may decide what, by AD group membership; `None`: no `[directory]`.
    pub directory: Option<crate::directory::Directory>,
    /// The forms' CSRF tokens.
    pub csrf: Csrf,
    /// Password sign-in (LDAP bind) and its session cookies; `None`: off.
    pub sessions: Option<crate::signin::Sessions>,
    /// Refuse (401, with the challenge) requests the domain did not authenticate, rather than
    /// record the desktop's word.
    pub require_requester: bool,
}

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    /// The desk.
    pub desk: Desk,
    /// The approvers' access.
    pub access: Access,
    /// Mail, when configured.
    pub mailer: Option<Mailer>,
    /// The public base URL, without a trailing slash.
    pub public_url: String,
    /// Limits.
    pub limits: Limits,
    /// When old rate-limit windows were last forgotten (ms).
    limits_swept_ms: AtomicI64,
}

impl App {
    /// Shared state for [`router`].
    pub fn new(
        desk: Desk,
        access: Access,
        mailer: Option<Mailer>,
        public_url: String,
        limits: Limits,
    ) -> Arc<Self> {
        Arc::new(Self {
            desk,
            access,
            mailer,
            public_url,
            limits,
            limits_swept_ms: AtomicI64::new(0),
        })
    }

    /// The status URL of a request.
    pub fn status_url(&self, id: &str) -> String {
        format!("{}/api/requests/{id}", self.public_url)
    }

    /// Counts one request for `requester` in its current hour (kept in the database, so a
    /// restart does not reset it); false past the limit. Windows an hour old are forgotten
    /// once an hour.
    async fn allow(&self, requester: &str, now_ms: i64) -> Result<bool, crate::store::StoreError> {
        const HOUR_MS: i64 = 3_600_000;
        let last = self.limits_swept_ms.load(Ordering::Relaxed);
        if now_ms - last >= HOUR_MS
            && self
                .limits_swept_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.desk.store.forget_rate_limits(now_ms - HOUR_MS).await?;
        }
        let n = self.desk.store.count_request(requester, now_ms, HOUR_MS).await?;
        Ok(n <= i64::from(self.limits.requests_per_hour))
    }
}

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/requests", post(submit))
        .route("/api/requests/{id}", get(status))
        .route("/api/revocations", get(revocations))
        .route("/desk", get(pages::queue))
        .route("/desk/sign-in", get(crate::signin::sign_in_form).post(crate::signin::sign_in))
        .route("/desk/sign-out", post(crate::signin::sign_out))
        .route("/desk/approved", get(pages::in_force))
        .route("/desk/history", get(pages::history))
        .route("/desk/history.csv", get(pages::history_csv))
        .route("/desk/overview", get(crate::overview::overview))
        .route("/desk/requests/{id}/approve", post(pages::approve))
        .route("/desk/requests/{id}/deny", post(pages::deny))
        .route("/desk/requests/{id}/revoke", post(pages::revoke))
        // The approvers' forms are small; the block page's records have their own cap.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::map_response_with_state(app.clone(), challenge))
        .with_state(app)
}

/// Unix milliseconds, now.
pub fn now_ms() -> i64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.desk.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

fn rejected(r: &Rejected) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, no_store(), Json(json!({"error": r.message, "field": r.field}))).into_response()
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

async fn submit(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let json_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_content {
        // Also what keeps a cross-site HTML form from filing requests in a user's name.
        return rejected(&Rejected {
            status: 415,
            field: None,
            message: "send Content-Type: application/json".into(),
        });
    }
    let limit = app.limits.max_body_bytes;
    let too_large = Rejected {
        status: 413,
        field: None,
        message: format!("the body is over the {limit}-byte limit"),
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return rejected(&too_large);
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return rejected(&too_large);
    };
    let now = now_ms();
    // The desktop's word, unless the domain authenticated the requester (Negotiate).
    let authenticated = app.access.auth.as_deref().and_then(|a| a.user(&headers));
    if authenticated.is_none() && app.access.require_requester {
        // The challenge is added on the way out; a browser with a ticket then retries.
        return rejected(&Rejected {
            status: 401,
            field: None,
            message: "sign in with your domain account (Kerberos)".into(),
        });
    }
    let request = match app.desk.check(&bytes, authenticated.as_deref(), now) {
        Ok(r) => r,
        Err(r) => return rejected(&r),
    };
    let Ok(allowed) = app.allow(&requester_key(&request), now).await else {
        return rejected(&Rejected {
            status: 503,
            field: None,
            message: "the database does not answer; try again later".into(),
        });
    };
    if !allowed {
        return rejected(&Rejected {
            status: 429,
            field: None,
            message: format!(
                "more than {} requests from this requester in an hour; try again later",
                app.limits.requests_per_hour
            ),
        });
    }
    let id = match app.desk.submit(&request).await {
        Ok(id) => id,
        Err(r) => return rejected(&r),
    };
    let created = id == request.id;
    if created {
        tracing::info!(request = %id, service = %request.service, machine = %request.machine, "request received");
    }
    if let (true, Some(mailer)) = (created, &app.mailer) {
        mailer.new_request(&request);
    }

    let url = app.status_url(&id);
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut response =
        (status, no_store(), Json(json!({"id": id, "status": "pending", "statusUrl": url})))
            .into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Whom the rate limit counts: the reported principal (or account) on the reported machine.
fn requester_key(r: &NewRequest) -> String {
    let who = r.principal.as_deref().or(r.os_user.as_deref()).unwrap_or_default();
    format!("{}|{}", who.to_lowercase(), r.machine.to_lowercase())
}

async fn status(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let not_found =
        || rejected(&Rejected { status: 404, field: None, message: "no such request".into() });
    if !is_id(&id) {
        return not_found();
    }
    match app.desk.status(&id).await {
        Ok(Some(status)) => (StatusCode::OK, no_store(), Json(status)).into_response(),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "reading a request failed");
            rejected(&Rejected { status: 500, field: None, message: "try again later".into() })
        }
    }
}

async fn revocations(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let now = now_ms();
    let (etag, ids) = match app.desk.revocations(now).await {
        Ok(list) => list,
        Err(e) => {
            tracing::error!(error = %e, "reading the revocation list failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
        }
    };
    let Ok(tag) = HeaderValue::from_str(&etag) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // Desktops poll: revalidate every time, and answer an unchanged list with no body.
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*");
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag), cache]).into_response();
    }
    let jws = app.desk.sign_revocations(ids, now);
    let jose = (header::CONTENT_TYPE, HeaderValue::from_static("application/jose"));
    (StatusCode::OK, [(header::ETAG, tag), cache, jose], jws).into_response()
}

/// Adds the authentication method's challenge (`WWW-Authenticate: Negotiate`) to every 401, so
/// that browsers sign in with Kerberos.
async fn challenge(State(app): State<Arc<App>>, mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        if let Some(c) = app.access.auth.as_deref().and_then(|a| a.challenge()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
    }
    response
}
