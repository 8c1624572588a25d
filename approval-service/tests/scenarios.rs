//! Every scenario runs on SQLite (one test each) and on PostgreSQL (all in one test, one
//! server, a database each).

use std::sync::Arc;

use axum::http::StatusCode;
use gatehouse_approval::config::Database;
use gatehouse_approval::desk::{DecideError, Status};
use gatehouse_approval::server::Limits;
use gatehouse_core::Identity;
use serde_json::{json, Value};

use crate::common::{policy, record, sqlite, Harness, Postgres};

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (db, _dir) = super::sqlite();
                    super::$name(&db).await;
                }
            )*
        }

        /// The same scenarios on a real PostgreSQL.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            let pg = Postgres::start();
            let mut ran = 0;
            $(
                $name(&pg.database(stringify!($name)).await).await;
                ran += 1;
            )*
            assert_eq!(ran, 12, "a scenario was added or dropped: update the count");
        }
    };
}

on_both_databases!(
    a_request_is_accepted_and_pending,
    a_retry_returns_the_same_id_and_a_clash_is_refused,
    bad_requests_name_the_field,
    approve_signs_a_token_the_engine_accepts,
    deny_and_revoke,
    one_decision_wins_a_race,
    the_rate_limit_counts_per_requester,
    hostile_text_is_stored_as_text,
    healthz_answers,
    the_revocation_list_is_signed_and_cached,
    approvers_pages_enforce_who_may_do_what,
    the_overview_counted_by_the_database_matches_the_records,
);

/// SQLite runs in WAL mode, kept in the file: readers go on while a request is written. Under
/// sqlx's default rollback journal every write locked the status polls out and synced several
/// times (the load bench's p99 was 50–120 ms at 1,000 mixed requests/s).
#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    use sqlx::Connection as _;
    let (db, _dir) = sqlite();
    let store = gatehouse_approval::store::Store::open(&db).await.unwrap();
    store.close().await;
    let mut file = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
    let mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut file).await.unwrap();
    assert_eq!(mode, "wal");
}

/// The overview's figures counted by the database (`Store::overview`: GROUP BY, percentiles by
/// OFFSET) are the figures the records give (`overview::figures`, the computation the page used
/// before), for every category and for narrower scopes, now and a week later.
async fn the_overview_counted_by_the_database_matches_the_records(db: &Database) {
    use gatehouse_approval::overview::figures;
    let h = Harness::new(db).await;
    let now = gatehouse_approval::server::now_ms();
    crate::common::seed(db, 3_000, now).await;
    let store = &h.app.desk.store;
    let all = store.history(1_000_000).await.unwrap();
    assert_eq!(all.len(), 3_000);
    let expected = figures(&all, now);
    assert!(
        !expected.by_service.is_empty()
            && expected.per_week.iter().all(|(_, n)| *n > 0)
            && expected.decisions.0 > 0
            && expected.decisions.1 > 0
            && expected.decisions.2 > 0
            && expected.time_to_decision.is_some(),
        "the seeded set exercises every figure: {expected:?}"
    );
    assert_eq!(store.overview(now, None).await.unwrap(), expected);
    let scopes: [&[&str]; 4] =
        [&["webmail"], &["webmail", "cloud_storage"], &["circumvention", "nothing_here"], &[]];
    for scope in scopes {
        let mine: Vec<_> =
            all.iter().filter(|r| scope.contains(&r.request.category.as_str())).cloned().collect();
        let scope: Vec<String> = scope.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            store.overview(now, Some(&scope)).await.unwrap(),
            figures(&mine, now),
            "{scope:?}"
        );
    }
    // A week on: the figures shift the same way in both.
    let later = now + 7 * 86_400_000;
    assert_eq!(store.overview(later, None).await.unwrap(), figures(&all, later));
}

fn alice() -> Identity {
    Identity {
        principal: Some("alice@corp.example".into()),
        machine: "WS01".into(),
        ..Identity::default()
    }
}

async fn submit(h: &Harness, request_id: &str) -> String {
    let (status, body) = h.post(&record(request_id)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn now_ms() -> i64 {
    gatehouse_approval::server::now_ms()
}

async fn a_request_is_accepted_and_pending(db: &Database) {
    let h = Harness::new(db).await;
    let (status, body) = h.post(&record("5b0d3d0e-0000-4000-8000-000000000001")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap();
    assert!(gatehouse_approval::desk::is_id(id), "{id}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["statusUrl"], format!("https://desk.corp.example/api/requests/{id}"));
    assert_eq!(
        h.get(&format!("/api/requests/{id}")).await,
        (StatusCode::OK, json!({"status": "pending"}))
    );
    // Recorded as the desktop reported it, and marked so.
    let stored = h.app.desk.store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.request.principal.as_deref(), Some("alice@corp.example"));
    assert_eq!(stored.request.identity_source.describe(), "reported by the desktop, not verified");
    assert_eq!((stored.request.service.as_str(), stored.request.days_requested), ("gmail", 14));
    // Unknown and malformed ids are the same 404.
    for path in ["/api/requests/AAAAAAAAAAAAAAAAAAAAAA", "/api/requests/x'%20OR%201=1"] {
        assert_eq!(h.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn a_retry_returns_the_same_id_and_a_clash_is_refused(db: &Database) {
    let h = Harness::new(db).await;
    let id = submit(&h, "retry-1").await;
    let (status, body) = h.post(&record("retry-1")).await;
    assert_eq!((status, body["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    let mut other = record("retry-1");
    other["principal"] = json!("mallory@corp.example");
    let (status, body) = h.post(&other).await;
    assert_eq!((status, &body["field"]), (StatusCode::CONFLICT, &json!("requestId")), "{body}");
}

async fn bad_requests_name_the_field(db: &Database) {
    let h = Harness::new(db).await;
    let with = |key: &str, value: Value| {
        let mut r = record(&format!("bad-{key}"));
        r[key] = value;
        r
    };
    let without = |key: &str| {
        let mut r = record(&format!("missing-{key}"));
        r.as_object_mut().unwrap().remove(key);
        r
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with("service", json!("no-such-service")), "service", "not a service"),
        (with("days", json!(31)), "days", "maximum of 30"),
        (with("days", json!(0)), "days", "1 to 30"),
        (with("days", json!("7")), "days", "whole number"),
        (with("category", json!("cloud_storage")), "category", "gmail's category"),
        (with("justification", json!("short")), "justification", "10 characters"),
        (with("machine", json!("WS\u{0007}01")), "machine", "control characters"),
        (with("principal", json!(42)), "principal", "string"),
        (without("service"), "service", "missing"),
        (without("machine"), "machine", "missing"),
        (without("days"), "days", "missing"),
        (without("justification"), "justification", "missing"),
        (without("requestId"), "requestId", "missing"),
        (with("requestId", json!("x".repeat(101))), "requestId", "100 characters"),
    ];
    for (body, field, words) in &cases {
        let (status, answer) = h.post(body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {answer}");
        assert_eq!(answer["field"], json!(field), "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(words), "{field}: {answer}");
    }
    assert_eq!(cases.len(), 14);
    let mut no_principal = record("no-principal");
    no_principal["principal"] = Value::Null;
    no_principal["user"] = Value::Null;
    assert_eq!(h.post(&no_principal).await.1["field"], "principal");

    assert_eq!(
        h.post_raw("application/json", b"{not json".to_vec()).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.post_raw("application/json", b"[1]".to_vec()).await.0, StatusCode::BAD_REQUEST);
    let form = h.post_raw("application/x-www-form-urlencoded", b"requestId=1".to_vec()).await;
    assert_eq!(form.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = record("huge");
    huge["origin"] = json!("x".repeat(20_000));
    let (status, body) = h.post(&huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Nothing above was stored.
    assert!(h.app.desk.store.list("pending", 100).await.unwrap().is_empty());
}

async fn approve_signs_a_token_the_engine_accepts(db: &Database) {
    let h = Harness::new(db).await;
    let id = submit(&h, "approve-1").await;
    let desk = &h.app.desk;
    // More than asked (and past the policy's cap): refused, nothing recorded. (The issuing
    // rules' own cap is checked at intake, so it is not reachable here.)
    for days in [15, 31] {
        let e = desk.approve(&id, "bob@corp.example", days, now_ms()).await.unwrap_err();
        assert!(matches!(e, DecideError::MoreThanAsked { asked: 14, .. }), "{e}");
    }
    assert_eq!(h.get(&format!("/api/requests/{id}")).await.1["status"], "pending");
    // Fewer days than asked.
    let grant = desk.approve(&id, "bob@corp.example", 1, now_ms()).await.unwrap();
    let (status, body) = h.get(&format!("/api/requests/{id}")).await;
    assert_eq!(
        (status, &body["status"], &body["days"]),
        (StatusCode::OK, &json!("approved"), &json!(1))
    );
    let token = body["token"].as_str().unwrap();
    assert_eq!(token, grant.token);
    let approval = policy().verify_approval(token, Some(&alice()), now_ms(), "desk").unwrap();
    assert_eq!(approval.subject, "alice@corp.example");
    assert_eq!(approval.machine.as_deref(), Some("WS01"));
    assert_eq!(approval.services, ["gmail"]);
    assert!(approval.categories.is_empty());
    assert_eq!(approval.request_id.as_deref(), Some("approve-1"));
    assert_eq!(approval.approver.as_deref(), Some("bob@corp.example"));
    assert_eq!(approval.issuer, "desk-test");
    assert!((approval.expires_ms - approval.not_before_ms - 86_400_000).abs() < 1000);
    // Bound to alice on WS01: not for mallory, not on another machine.
    let mallory = Identity { principal: Some("mallory@corp.example".into()), ..alice() };
    assert_eq!(
        policy().verify_approval(token, Some(&mallory), now_ms(), "x").unwrap_err().code(),
        "other_user"
    );
    let ws02 = Identity { machine: "WS02".into(), ..alice() };
    assert_eq!(
        policy().verify_approval(token, Some(&ws02), now_ms(), "x").unwrap_err().code(),
        "other_machine"
    );
    // Decided once.
    assert!(matches!(
        desk.approve(&id, "carol", 1, now_ms()).await,
        Err(DecideError::AlreadyDecided(_))
    ));
    assert!(matches!(
        desk.deny(&id, "carol", "no", now_ms()).await,
        Err(DecideError::AlreadyDecided(_))
    ));
    assert!(matches!(
        desk.approve("AAAAAAAAAAAAAAAAAAAAAA", "carol", 1, now_ms()).await,
        Err(DecideError::NotFound(_))
    ));
}

async fn deny_and_revoke(db: &Database) {
    let h = Harness::new(db).await;
    let desk = &h.app.desk;
    let denied = submit(&h, "deny-1").await;
    assert!(matches!(desk.deny(&denied, "bob", "  ", now_ms()).await, Err(DecideError::NoReason)));
    desk.deny(&denied, "bob", "Use the department's OneDrive instead", now_ms()).await.unwrap();
    assert_eq!(
        h.get(&format!("/api/requests/{denied}")).await.1,
        json!({"status": "denied", "reason": "Use the department's OneDrive instead"})
    );
    assert!(matches!(
        desk.revoke(&denied, "bob", now_ms()).await,
        Err(DecideError::NotRevocable(_))
    ));

    let approved = submit(&h, "revoke-1").await;
    let grant = desk.approve(&approved, "bob", 7, now_ms()).await.unwrap();
    assert!(desk.store.revoked_jtis(now_ms()).await.unwrap().is_empty());
    desk.revoke(&approved, "bob", now_ms()).await.unwrap();
    assert!(matches!(
        desk.revoke(&approved, "bob", now_ms()).await,
        Err(DecideError::NotRevocable(_))
    ));
    assert_eq!(h.get(&format!("/api/requests/{approved}")).await.1["status"], "revoked");
    assert_eq!(desk.store.revoked_jtis(now_ms()).await.unwrap(), vec![grant.jti.clone()]);
    // Once the token has expired anyway, the list no longer needs to carry it.
    assert!(desk.store.revoked_jtis(grant.expires_ms).await.unwrap().is_empty());
}

async fn one_decision_wins_a_race(db: &Database) {
    let h = Harness::new(db).await;
    let id = submit(&h, "race-1").await;
    let app = Arc::clone(&h.app);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let app = Arc::clone(&app);
            let id = id.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    app.desk.approve(&id, &format!("approver{i}"), 3, now_ms()).await.map(|_| ())
                } else {
                    app.desk.deny(&id, &format!("approver{i}"), "no", now_ms()).await
                }
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(DecideError::AlreadyDecided(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    let record = h.app.desk.store.get(&id).await.unwrap().unwrap();
    assert!(record.decided.is_some());
}

async fn the_rate_limit_counts_per_requester(db: &Database) {
    let h =
        Harness::with_limits(db, Limits { max_body_bytes: 16 * 1024, requests_per_hour: 3 }).await;
    for i in 0..3 {
        submit(&h, &format!("rate-{i}")).await;
    }
    let (status, body) = h.post(&record("rate-3")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Counted per requester: another principal is not held up.
    let mut bob = record("rate-bob");
    bob["principal"] = json!("bob@corp.example");
    assert_eq!(h.post(&bob).await.0, StatusCode::CREATED);
    // Kept in the database: a restarted desk (a new App on the same database) still refuses.
    drop(h);
    let restarted =
        Harness::with_limits(db, Limits { max_body_bytes: 16 * 1024, requests_per_hour: 3 }).await;
    let (status, body) = restarted.post(&record("rate-4")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "after a restart: {body}");
    // A new window an hour on.
    let store = &restarted.app.desk.store;
    let later = gatehouse_approval::server::now_ms() + 3_600_001;
    assert_eq!(store.count_request("alice@corp.example|ws01", later, 3_600_000).await.unwrap(), 1);
    assert_eq!(store.count_request("alice@corp.example|ws01", later, 3_600_000).await.unwrap(), 2);
}

async fn hostile_text_is_stored_as_text(db: &Database) {
    let h = Harness::new(db).await;
    let hostile =
        "Robert'); DROP TABLE requests; -- <script>alert(1)</script> \u{202e}txt.exe 請核准";
    let mut r = record("hostile-1");
    r["justification"] = json!(hostile);
    r["origin"] = json!("https://mail.google.com/'--");
    let (status, body) = h.post(&r).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = h.app.desk.store.get(body["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.request.justification, hostile);
    assert_eq!(h.app.desk.store.list("pending", 10).await.unwrap().len(), 1);
    let reason = "'; UPDATE requests SET state='approved' --";
    h.app.desk.deny(&stored.request.id, "bob", reason, now_ms()).await.unwrap();
    assert_eq!(
        h.app.desk.status(&stored.request.id).await.unwrap(),
        Some(Status::Denied { reason: reason.into() })
    );
}

async fn healthz_answers(db: &Database) {
    let h = Harness::new(db).await;
    assert_eq!(h.get("/healthz").await, (StatusCode::OK, Value::String("ok\n".into())));
    h.app.desk.store.close().await;
    assert_eq!(h.get("/healthz").await.0, StatusCode::SERVICE_UNAVAILABLE);
}

async fn the_revocation_list_is_signed_and_cached(db: &Database) {
    let h = Harness::new(db).await;
    let list = |etag: Option<&str>| {
        let mut r = axum::http::Request::get("/api/revocations");
        if let Some(tag) = etag {
            r = r.header("if-none-match", tag);
        }
        r.body(axum::body::Body::empty()).unwrap()
    };
    let fetch = |etag: Option<String>| {
        let router = gatehouse_approval::server::router(h.app.clone());
        let request = list(etag.as_deref());
        async move {
            use http_body_util::BodyExt as _;
            use tower::ServiceExt as _;
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, etag, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let engine = || {
        let policy = json!({"approvals": {"keys": [crate::common::key().public_jwk()]}});
        gatehouse_core::Engine::new(&policy.to_string()).unwrap()
    };
    let (status, empty_tag, jws) = fetch(None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(engine().apply_revocation_list(&jws), Ok(0));
    let empty_tag = empty_tag.unwrap();
    let (status, _, body) = fetch(Some(empty_tag.clone())).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));

    let id = submit(&h, "revocation-list-1").await;
    let grant = h.app.desk.approve(&id, "bob", 5, now_ms()).await.unwrap();
    h.app.desk.revoke(&id, "bob", now_ms()).await.unwrap();
    let (status, tag, jws) = fetch(Some(empty_tag.clone())).await;
    assert_eq!(status, StatusCode::OK, "a changed list is sent again");
    assert_ne!(tag.as_deref(), Some(empty_tag.as_str()));
    let mut engine = engine();
    assert_eq!(engine.apply_revocation_list(&jws), Ok(1));
    let input =
        gatehouse_core::TokenInput { token: grant.token, source: "desk".into(), file: None };
    let result = engine.verify_tokens(vec![input], Some(&alice()), now_ms()).remove(0);
    assert_eq!(result.reason, Some("revoked"));
    assert_eq!(fetch(tag).await.0, StatusCode::NOT_MODIFIED);
}

/// The approvers' pages: every route as anonymous, as the requester, as an approver of another
/// category, and as an approver; CSRF; hostile text; both languages; the CSV.
async fn approvers_pages_enforce_who_may_do_what(db: &Database) {
    let h = Harness::new(db).await;
    let mut r = record("pages-1");
    r["justification"] = json!("=HYPERLINK(\"http://evil\") <script>alert(1)</script> & 請核准");
    let (_, body) = h.post(&r).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let (alice, bob, carol, dave) =
        ("alice@corp.example", "bob@CORP.EXAMPLE", "carol@corp.example", "dave@CORP.EXAMPLE");

    for path in ["/desk", "/desk/approved", "/desk/history", "/desk/history.csv", "/desk/overview"]
    {
        assert_eq!(h.page(None, path).await.0, StatusCode::UNAUTHORIZED, "anonymous {path}");
        assert_eq!(h.page(Some(alice), path).await.0, StatusCode::FORBIDDEN, "requester {path}");
        for approver in [bob, carol, dave] {
            assert_eq!(h.page(Some(approver), path).await.0, StatusCode::OK, "{approver} {path}");
        }
    }
    // The proxy's secret is what makes the user header count.
    let forged = axum::http::Request::get("/desk")
        .header("x-remote-user", bob)
        .header("x-gatehouse-proxy-secret", "guess-guess-guess-guess")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(h.call(forged).await.0, StatusCode::UNAUTHORIZED);

    // Carol (webmail) sees the Gmail request, escaped; Dave (cloud storage) does not.
    let (_, page) = h.page(Some(carol), "/desk").await;
    assert!(page.contains(&id) && page.contains("alice@corp.example"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; 請核准"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("reported by the desktop, not verified"));
    assert!(!h.page(Some(dave), "/desk").await.1.contains(&id));
    let (_, zh) = h.page(Some(carol), "/desk?lang=zh-TW").await;
    assert!(zh.contains("待決定的申請") && zh.contains("由桌面電腦報告，未經核實"), "{zh}");
    assert!(zh.contains("lang=\"zh-Hant\""));
    // The category by its name in the page's language, not its policy id.
    assert!(
        page.contains("<td>Personal webmail</td>") && !page.contains("<td>webmail</td>"),
        "{page}"
    );
    assert!(zh.contains("<td>個人網上郵件</td>"), "{zh}");

    let csrf = |user: &str| h.app.access.csrf.token(user);
    let approve = format!("/desk/requests/{id}/approve");
    let tries: Vec<(Option<&str>, String, StatusCode)> = vec![
        (None, csrf(carol), StatusCode::UNAUTHORIZED),
        (Some(alice), csrf(alice), StatusCode::FORBIDDEN),
        (Some(dave), csrf(dave), StatusCode::FORBIDDEN),
        (Some(carol), String::new(), StatusCode::FORBIDDEN),
        (Some(carol), csrf(bob), StatusCode::FORBIDDEN),
    ];
    for (user, token, status) in &tries {
        let (got, body) = h.form(*user, &approve, &[("csrf", token), ("days", "3")]).await;
        assert_eq!(got, *status, "{user:?}: {body}");
    }
    assert_eq!(h.get(&format!("/api/requests/{id}")).await.1["status"], "pending");
    // Past the policy's cap: refused; then approved for fewer days than asked.
    let (status, _) =
        h.form(Some(carol), &approve, &[("csrf", &csrf(carol)), ("days", "31")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = h.form(Some(carol), &approve, &[("csrf", &csrf(carol)), ("days", "3")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let answer = h.get(&format!("/api/requests/{id}")).await.1;
    assert_eq!((&answer["status"], &answer["days"]), (&json!("approved"), &json!(3)));
    let deny = format!("/desk/requests/{id}/deny");
    let (status, _) =
        h.form(Some(bob), &deny, &[("csrf", &csrf(bob)), ("reason", "too late")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "decided once");

    // In force, then revoked by the right approver only.
    assert!(h.page(Some(carol), "/desk/approved").await.1.contains("(ends soon)"));
    let revoke = format!("/desk/requests/{id}/revoke");
    assert_eq!(h.form(None, &revoke, &[("csrf", "")]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.form(Some(alice), &revoke, &[("csrf", &csrf(alice))]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.form(Some(dave), &revoke, &[("csrf", &csrf(dave))]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.form(Some(carol), &revoke, &[("csrf", &csrf(carol))]).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(h.get(&format!("/api/requests/{id}")).await.1["status"], "revoked");

    // A denial through the form, with a hostile reason shown as text.
    let (_, body) = h.post(&record("pages-2")).await;
    let second = body["id"].as_str().unwrap().to_owned();
    let deny = format!("/desk/requests/{second}/deny");
    for (user, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(alice), StatusCode::FORBIDDEN),
        (Some(dave), StatusCode::FORBIDDEN),
    ] {
        let token = user.map(csrf).unwrap_or_default();
        assert_eq!(h.form(user, &deny, &[("csrf", &token), ("reason", "no")]).await.0, status);
    }
    // A cross-site form is refused even with a valid token (the browser says where it came from).
    let cross_site = axum::http::Request::post(&deny)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-remote-user", bob)
        .header("x-gatehouse-proxy-secret", crate::common::PROXY_SECRET)
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::from(format!("csrf={}&reason=no", csrf(bob))))
        .unwrap();
    assert_eq!(h.call(cross_site).await.0, StatusCode::FORBIDDEN);
    let reason = "<b>Use OneDrive</b>";
    assert_eq!(
        h.form(Some(bob), &deny, &[("csrf", &csrf(bob)), ("reason", reason)]).await.0,
        StatusCode::SEE_OTHER
    );
    let history = h.page(Some(bob), "/desk/history").await.1;
    assert!(
        history.contains("&lt;b&gt;Use OneDrive&lt;/b&gt;") && !history.contains("<b>Use"),
        "{history}"
    );

    // The overview: SVG charts with the numbers beside them, in both languages, per category.
    let (_, overview) = h.page(Some(carol), "/desk/overview").await;
    assert!(
        overview.contains("<svg") && overview.contains("Approvals in force, by category"),
        "{overview}"
    );
    assert!(overview.contains("<td>1</td>"), "one denial: {overview}");
    let (_, zh) = h.page(Some(carol), "/desk/overview?lang=zh-TW").await;
    assert!(zh.contains("合規概覽") && zh.contains("個人網上郵件"), "{zh}");
    // The schedule's modes in words, in the page's language, never the policy's raw values.
    assert!(overview.contains("block (unless approved)"), "{overview}");
    assert!(zh.contains("封鎖（獲批准者除外）") && !zh.contains("<td>block</td>"), "{zh}");
    assert!(
        !h.page(Some(dave), "/desk/overview").await.1.contains("<td>1</td>"),
        "another category's figures"
    );

    // The CSV: both requests, the formula defused, quoted per RFC 4180.
    let (_, csv) = h.page(Some(bob), "/desk/history.csv").await;
    assert!(csv.starts_with('\u{feff}'));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")"), "{csv}");
    // The history shows the service by its catalogue name; the CSV keeps the id before it.
    let (_, history) = h.page(Some(bob), "/desk/history").await;
    assert!(history.contains("<td>Gmail</td>") && !history.contains("<td>gmail</td>"), "{history}");
    assert!(csv.contains(",service_id,Service,") && csv.contains(",gmail,Gmail,"), "{csv}");
    assert!(
        !h.page(Some(dave), "/desk/history.csv").await.1.contains("alice"),
        "another category's history"
    );
}

/// Mail to the approvers on a new request and to the requester on each decision, through a
/// local SMTP sink; text that looks like SMTP stays in the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_to_approvers_and_to_the_requester() {
    use gatehouse_approval::mail::MailConfig;
    let sink = crate::common::SmtpSink::start().await;
    let config = MailConfig {
        host: "127.0.0.1".into(),
        port: sink.port,
        from: "Gatehouse desk <desk@corp.example>".into(),
        approvers: vec!["approvers@corp.example".into()],
        by_category: std::collections::BTreeMap::from([(
            "webmail".to_owned(),
            vec!["webmail-approvers@corp.example".to_owned()],
        )]),
        tls: gatehouse_approval::mail::MailTls::None,
        ca_file: None,
        auth: None,
    };
    let (db, _dir) = sqlite();
    let limits = Limits { max_body_bytes: 16 * 1024, requests_per_hour: 50 };
    let h = Harness::with(&db, limits, Some(&config)).await;
    let mut r = record("mail-1");
    r["justification"] = json!("Invoices arrive here\r\n.\r\nRCPT TO:<evil@example.net>\r\nDATA");
    let (_, body) = h.post(&r).await;
    let id = body["id"].as_str().unwrap().to_owned();
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["approvers@corp.example", "webmail-approvers@corp.example"]);
    let data = &mails[0].data;
    assert!(
        data.contains("Subject: Gatehouse: alice@corp.example asks for gmail (14 days)"),
        "{data}"
    );
    assert!(data.contains("reported by the desktop, not verified"), "{data}");
    assert!(data.contains("RCPT TO:<evil@example.net>"), "the text stays in the body: {data}");
    assert!(data.contains("https://desk.corp.example/desk"));

    let carol = "carol@corp.example";
    let csrf = h.app.access.csrf.token(carol);
    let path = format!("/desk/requests/{id}/approve");
    assert_eq!(
        h.form(Some(carol), &path, &[("csrf", &csrf), ("days", "3")]).await.0,
        StatusCode::SEE_OTHER
    );
    let mails = sink.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, ["alice@corp.example"]);
    assert!(
        mails[1].data.contains("Subject: Gatehouse: gmail approved for 3 days"),
        "{}",
        mails[1].data
    );

    let (_, body) = h.post(&record("mail-2")).await;
    let second = body["id"].as_str().unwrap().to_owned();
    let path = format!("/desk/requests/{second}/deny");
    let reason = [("csrf", csrf.as_str()), ("reason", "Use the department's OneDrive")];
    assert_eq!(h.form(Some(carol), &path, &reason).await.0, StatusCode::SEE_OTHER);
    let mails = sink.wait_for(4).await;
    assert_eq!(mails.len(), 4, "the new request's mail and the denial's");
    let denial = mails.iter().find(|m| m.data.contains("not approved")).unwrap();
    assert_eq!(denial.to, ["alice@corp.example"]);
    assert!(denial.data.contains("Use the department's OneDrive"));
}

/// Mail settings for a relay at `localhost:port` with `tls`, the CA in `dir/ca.pem` and SMTP AUTH
/// as `gatehouse-desk` with the password in an owner-only `dir/smtp-password`.
fn secure_mail(
    dir: &std::path::Path,
    port: u16,
    tls: gatehouse_approval::mail::MailTls,
    ca: &crate::common::TestCa,
) -> gatehouse_approval::mail::MailConfig {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let password = dir.join("smtp-password");
    std::fs::write(&password, "s3cret pass\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    gatehouse_approval::mail::MailConfig {
        host: "localhost".into(),
        port,
        from: "desk@corp.example".into(),
        approvers: vec!["approvers@corp.example".into()],
        by_category: std::collections::BTreeMap::new(),
        tls,
        ca_file: Some(dir.join("ca.pem")),
        auth: Some(("gatehouse-desk".into(), password)),
    }
}

/// Mail over STARTTLS (and over TLS from the first byte) to a relay whose certificate comes from
/// the CA in `mail.ca_file`; the AUTH credentials arrive as configured, after the upgrade; the
/// password appears in no debug output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_over_starttls_or_tls_with_the_configured_credentials() {
    use crate::common::{SinkTls, SmtpSink, TestCa};
    use gatehouse_approval::mail::MailTls;
    let ca = TestCa::new("Corp Mail CA");
    for (tls, sink) in [
        (MailTls::StartTls, SmtpSink::start_with(SinkTls::StartTls(ca.server("localhost"))).await),
        (MailTls::Tls, SmtpSink::start_with(SinkTls::Wrapper(ca.server("localhost"))).await),
    ] {
        let (db, dir) = sqlite();
        let config = secure_mail(dir.path(), sink.port, tls, &ca);
        let limits = Limits { max_body_bytes: 16 * 1024, requests_per_hour: 50 };
        let h = Harness::with(&db, limits, Some(&config)).await;
        assert_eq!(h.post(&record("tls-1")).await.0, StatusCode::CREATED);
        let mails = sink.wait_for(1).await;
        assert_eq!(mails.len(), 1, "{tls:?}");
        assert!(mails[0].tls, "{tls:?}: the mail came over TLS");
        assert_eq!(
            mails[0].auth,
            Some(("gatehouse-desk".to_owned(), "s3cret pass".to_owned())),
            "{tls:?}: the credentials as configured, without the file's line break"
        );
        assert_eq!(mails[0].to, ["approvers@corp.example"]);
        let mailer = h.app.mailer.as_ref().unwrap();
        // The sink keeps the mail before it answers; the desk counts it on the answer.
        let start = std::time::Instant::now();
        while mailer.sent() == 0 && start.elapsed() < std::time::Duration::from_secs(10) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!((mailer.sent(), mailer.failed()), (1, 0));
        assert!(!format!("{mailer:?}").contains("s3cret"));
    }
}

/// A relay whose certificate comes from another CA than `mail.ca_file`'s is refused: nothing
/// is sent (no credentials either), the failure is counted and logged, and the request is
/// recorded all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_certificate_from_another_ca_is_refused() {
    use crate::common::{SinkTls, SmtpSink, TestCa};
    use gatehouse_approval::mail::MailTls;
    let (trusted, other) = (TestCa::new("Corp Mail CA"), TestCa::new("Someone Else's CA"));
    let sink = SmtpSink::start_with(SinkTls::StartTls(other.server("localhost"))).await;
    let (db, dir) = sqlite();
    let config = secure_mail(dir.path(), sink.port, MailTls::StartTls, &trusted);
    let limits = Limits { max_body_bytes: 16 * 1024, requests_per_hour: 50 };
    let h = Harness::with(&db, limits, Some(&config)).await;
    let (status, body) = h.post(&record("tls-2")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap();
    assert!(h.app.desk.store.get(id).await.unwrap().is_some(), "the request is recorded");
    let mailer = h.app.mailer.as_ref().unwrap();
    let start = std::time::Instant::now();
    while mailer.failed() == 0 && start.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!((mailer.sent(), mailer.failed()), (0, 1));
    assert!(sink.wait_for(0).await.is_empty(), "no mail");
    assert!(sink.handshake_failures.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

/// The password file is checked like the signing key: owner-only, not empty; the errors name
/// the key and the fix. A CA file without a certificate is refused the same way.
#[test]
fn mail_files_that_cannot_be_used_are_refused_by_name() {
    use gatehouse_approval::mail::{MailTls, Mailer};
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let config = secure_mail(dir.path(), 25, MailTls::StartTls, &crate::common::TestCa::new("CA"));
    let password = dir.path().join("smtp-password");
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Mailer::new(&config, "https://d").unwrap_err().to_string();
    assert!(e.contains("mail.password_file") && e.contains("chmod 600"), "{e}");
    std::fs::write(&password, "\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = Mailer::new(&config, "https://d").unwrap_err().to_string();
    assert!(e.contains("mail.password_file") && e.contains("is empty"), "{e}");
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let e = Mailer::new(&config, "https://d").unwrap_err().to_string();
    assert!(e.contains("mail.ca_file") && e.contains("no PEM certificate"), "{e}");
}

/// A request the reverse proxy authenticated (Negotiate) is recorded as authenticated by the
/// domain; one whose desktop reports another principal is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_the_domain_authenticated_is_marked_so() {
    let (db, _dir) = sqlite();
    let h = Harness::new(&db).await;
    let post_as = |user: &str, body: Value| {
        axum::http::Request::post("/api/requests")
            .header("content-type", "application/json")
            .header("x-remote-user", user)
            .header("x-gatehouse-proxy-secret", crate::common::PROXY_SECRET)
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let (status, body) = h.call(post_as("alice@CORP.EXAMPLE", record("kerberos-1"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored = h.app.desk.store.get(body["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.request.identity_source.describe(), "authenticated by the domain (Kerberos)");
    assert_eq!(stored.request.principal.as_deref(), Some("alice@CORP.EXAMPLE"));
    let (status, body) = h.call(post_as("mallory@CORP.EXAMPLE", record("kerberos-2"))).await;
    assert_eq!((status, &body["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("principal")));
    // Without the proxy's secret the header is not believed: the desktop's word, marked so.
    let mut forged = post_as("bob@CORP.EXAMPLE", record("kerberos-3"));
    forged.headers_mut().remove("x-gatehouse-proxy-secret");
    let (status, body) = h.call(forged).await;
    assert_eq!(status, StatusCode::CREATED);
    let stored = h.app.desk.store.get(body["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.request.identity_source.describe(), "reported by the desktop, not verified");
    let page = h.page(Some("bob@CORP.EXAMPLE"), "/desk").await.1;
    assert!(
        page.contains("authenticated by the domain") && page.contains("not verified"),
        "{page}"
    );
}

/// Fail closed: with `[directory]` and the directory unreachable, a user the groups might name
/// gets 403 and a page saying the directory could not be reached; a listed approver still gets in
/// with the listed rights. (The real directory: tests/ad/desk.test.mjs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_directory_makes_nobody_an_approver_through_a_group() {
    use gatehouse_approval::directory::{Directory, DirectoryConfig};
    use std::os::unix::fs::PermissionsExt as _;
    let (db, dir) = sqlite();
    let password = dir.path().join("directory-password");
    std::fs::write(&password, "s3cret\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A closed port on the loopback: the connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = DirectoryConfig {
        url: format!("ldaps://127.0.0.1:{port}"),
        base_dn: "DC=corp,DC=example".into(),
        realm: "CORP.EXAMPLE".into(),
        bind: gatehouse_approval::directory::Bind::Simple {
            dn: "desksvc@corp.example".into(),
            password_file: password,
        },
        ca_file: None,
        cache: std::time::Duration::from_secs(60),
        timeout: std::time::Duration::from_secs(2),
        groups_all: vec!["CN=Gatehouse Approvers,CN=Users,DC=corp,DC=example".into()],
        groups_by_category: std::collections::BTreeMap::new(),
    };
    let h = Harness::with_directory(&db, Directory::new(config).unwrap()).await;
    let (status, page) = h.page(Some("erin@CORP.EXAMPLE"), "/desk").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("directory (Active Directory) could not be reached"), "{page}");
    // Another realm is not looked up at all: an ordinary refusal.
    let (status, page) = h.page(Some("erin@EVIL.EXAMPLE"), "/desk").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("not an approver"), "{page}");
    let (status, page) = h.page(Some("bob@CORP.EXAMPLE"), "/desk").await;
    assert_eq!(status, StatusCode::OK, "{page}");
}
