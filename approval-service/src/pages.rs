//! The approvers' pages: server-rendered HTML (maud escapes every value), English and
//! Traditional Chinese, plain forms that work without JavaScript. Every page needs a signed-in
//! approver ([`crate::auth`]); every change is a POST with the user's CSRF token, from the same
//! site, and is allowed only for the request's category.
//!
//! | route | what |
//! |---|---|
//! | `GET /desk` | the queue: pending requests this approver may decide |
//! | `POST /desk/requests/{id}/approve` | `days`, `csrf` → approve (at most the policy's cap) |
//! | `POST /desk/requests/{id}/deny` | `reason`, `csrf` → deny |
//! | `GET /desk/approved` | approvals in force, soonest end first, those ending within 7 days marked |
//! | `POST /desk/requests/{id}/revoke` | `csrf` → revoke |
//! | `GET /desk/history` and `/desk/history.csv` | every request this approver may see, newest first |
//! | `GET /desk/overview` | the compliance overview ([`crate::overview`]) |
//! | `GET`/`POST /desk/sign-in`, `POST /desk/sign-out` | the password sign-in ([`crate::signin`]) |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::desk::{is_id, DecideError};
use crate::directory::Rights;
use crate::server::{now_ms, App};
use crate::store::{Record, State as RecordState};

/// Approvals ending within this many days are "expiring soon".
const EXPIRING_DAYS: i64 = 7;
const DAY_MS: i64 = 86_400_000;
/// The most rows a page or export shows.
const MAX_ROWS: i64 = 5000;

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Traditional Chinese (Taiwan, Hong Kong).
    ZhTw,
}

impl Lang {
    pub(crate) fn pick(query: Option<&str>, headers: &HeaderMap) -> Self {
        let zh = |s: &str| s.trim().to_ascii_lowercase().starts_with("zh");
        match query {
            Some(q) => {
                if zh(q) {
                    Self::ZhTw
                } else {
                    Self::En
                }
            }
            None => {
                let accept = headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .unwrap_or("");
                if zh(accept) {
                    Self::ZhTw
                } else {
                    Self::En
                }
            }
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhTw => "zh-TW",
        }
    }

    pub(crate) fn html_lang(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhTw => "zh-Hant",
        }
    }

    pub(crate) fn t(self, key: &str) -> &'static str {
        let (en, zh) = match key {
            "title" => ("Gatehouse approval desk", "Gatehouse 批准服務台"),
            "queue" => ("Waiting for a decision", "待決定的申請"),
            "approved" => ("Approvals in force", "生效中的批准"),
            "history" => ("History", "紀錄"),
            "csv" => ("Download CSV", "下載 CSV"),
            "other_lang" => ("中文", "English"),
            "signed_in" => ("Signed in as", "已登入："),
            "requester" => ("Requester", "申請人"),
            "machine" => ("Machine", "電腦"),
            "service" => ("Service", "服務"),
            "category" => ("Category", "類別"),
            "justification" => ("Justification", "理由"),
            "days_asked" => ("Days asked", "申請日數"),
            "waiting" => ("Waiting", "等候時間"),
            "decide" => ("Decision", "決定"),
            "days" => ("Days", "日數"),
            "approve" => ("Approve", "批准"),
            "reason" => ("Reason for denial", "拒絕理由"),
            "deny" => ("Deny", "拒絕"),
            "revoke" => ("Revoke", "撤銷"),
            "ends" => ("Ends", "屆滿"),
            "expiring" => ("ends soon", "即將屆滿"),
            "approver" => ("Approver", "批准人"),
            "state" => ("State", "狀態"),
            "created" => ("Requested", "申請時間"),
            "decided" => ("Decided", "決定時間"),
            "days_granted" => ("Days granted", "批准日數"),
            "none" => ("Nothing here.", "沒有項目。"),
            "reported" => ("reported by the desktop, not verified", "由桌面電腦報告，未經核實"),
            "kerberos" => ("authenticated by the domain (Kerberos)", "已由網域驗證（Kerberos）"),
            "pending" => ("pending", "待決定"),
            "approved_state" => ("approved", "已批准"),
            "denied" => ("denied", "已拒絕"),
            "revoked" => ("revoked", "已撤銷"),
            "done" => ("Done.", "已完成。"),
            "overview" => ("Compliance overview", "合規概覽"),
            "in_force_by_category" => ("Approvals in force, by category", "生效中的批准（按類別）"),
            "in_force_by_service" => ("Approvals in force, by service", "生效中的批准（按服務）"),
            "per_week" => ("Requests per week (last 12 weeks)", "每週申請數目（最近 12 週）"),
            "decisions" => ("Decisions", "決定"),
            "time_to_decision" => ("Time to decision", "決定所需時間"),
            "median" => ("median", "中位數"),
            "p90" => ("90th percentile", "第 90 百分位"),
            "schedule" => ("Adaptation schedule", "適應期安排"),
            "mode" => ("Mode", "模式"),
            "mode_off" => ("off", "不執行"),
            "mode_monitor" => ("monitor (allowed, recorded)", "監察（容許並記錄）"),
            "mode_warn" => ("warn (may continue with a reason)", "警告（可說明理由後繼續）"),
            "mode_block" => ("block (unless approved)", "封鎖（獲批准者除外）"),
            "label_sep" => (": ", "："),
            "list_sep" => (", ", "，"),
            "adaptation_end" => ("Blocking from", "開始封鎖"),
            "count" => ("Number", "數目"),
            "week_of" => ("Week of", "週（由）"),
            "sign_in" => ("Sign in with your domain password", "以網域密碼登入"),
            "sign_in_hint" => (
                "For browsers that cannot sign in with Kerberos. The desk checks your password with the domain controller and does not keep it.",
                "適用於無法以 Kerberos 登入的瀏覽器。服務台會向網域控制站核對密碼，並不會保存密碼。",
            ),
            "user_name" => ("Domain user name", "網域使用者名稱"),
            "password" => ("Password", "密碼"),
            "sign_in_failed" => (
                "The user name or password is wrong, or the account is disabled.",
                "使用者名稱或密碼錯誤，或帳戶已停用。",
            ),
            "sign_in_wait" => (
                "Too many failed attempts for this user name; wait 15 minutes.",
                "此使用者名稱登入失敗次數過多，請等候 15 分鐘。",
            ),
            "form_expired" => (
                "The form has expired: enter your name and password again.",
                "表格已過期，請重新輸入名稱及密碼。",
            ),
            "or_password" => ("Or sign in with your domain password", "或以網域密碼登入"),
            "sign_out" => ("Sign out", "登出"),
            _ => ("?", "?"),
        };
        match self {
            Self::En => en,
            Self::ZhTw => zh,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LangQuery {
    pub(crate) lang: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    csrf: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    days: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// The page shown when the directory cannot say whether someone is an approver.
pub(crate) const DIRECTORY_DOWN: &str = "The directory (Active Directory) could not be reached, so the desk cannot tell whether you are an approver, and refuses until it can. Try again in a minute; if this persists, tell the desk's administrators.";

/// Who is asking: an approver and what they decide, or the response that refuses them.
/// Rights are the configured principals' plus, with `[directory]`, the AD groups'; when the
/// directory cannot answer, only the configured ones count (fail closed).
pub(crate) async fn approver(
    app: &App,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<(String, Rights), Refusal> {
    let Some(auth) = app.access.auth.as_deref() else {
        return Err(Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "Approver sign-in is not configured on this desk ([auth] in the configuration).",
        ));
    };
    let user = auth.user(headers).or_else(|| crate::signin::session_user(app, headers));
    let Some(user) = user else {
        let text =
            if app.access.sessions.is_some() { UNAUTHORIZED_OR_PASSWORD } else { UNAUTHORIZED };
        return Err(Refusal(StatusCode::UNAUTHORIZED, lang, text));
    };
    let listed = app.access.approvers.rights(&user);
    let rights = match &app.access.directory {
        None => listed,
        Some(directory) => match directory.rights(&user).await {
            Ok(grouped) => listed.union(grouped),
            Err(e) if listed.is_approver() => {
                tracing::error!(user = %user, error = %e, "directory lookup failed; only the listed rights count");
                listed
            }
            Err(e) => {
                tracing::error!(user = %user, error = %e, "directory lookup failed; refused");
                return Err(Refusal(StatusCode::FORBIDDEN, lang, DIRECTORY_DOWN));
            }
        },
    };
    if !rights.is_approver() {
        tracing::warn!(user = %user, "not an approver");
        return Err(Refusal(StatusCode::FORBIDDEN, lang, "You are not an approver on this desk."));
    }
    Ok((user, rights))
}

/// A refused page or change, rendered by [`message`].
pub(crate) struct Refusal(StatusCode, Lang, &'static str);

/// The text of a 401; [`crate::server`] adds the authentication method's challenge to it.
pub(crate) const UNAUTHORIZED: &str = "Sign in with your domain account. If this page stays, reload it once (a browser's first Kerberos sign-in can fail).";
/// The same with password sign-in on: the page links to the form.
pub(crate) const UNAUTHORIZED_OR_PASSWORD: &str = "Sign in with your domain account. If this page stays, reload it once (a browser's first Kerberos sign-in can fail), or use your domain password.";
/// The sign-in form's text when the directory cannot check a password.
pub(crate) const DIRECTORY_DOWN_SIGN_IN: &str = "The directory (Active Directory) could not be reached, so the password cannot be checked. Try again in a minute; if this persists, tell the desk's administrators.";

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if self.2 == UNAUTHORIZED_OR_PASSWORD {
            let lang = self.1;
            let body = html! {
                (DOCTYPE)
                html lang=(lang.html_lang()) {
                    head { meta charset="utf-8"; title { (lang.t("title")) } }
                    body { main {
                        h1 { (lang.t("title")) }
                        p role="alert" { (self.2) }
                        p { a href={ "/desk/sign-in?lang=" (lang.code()) } { (lang.t("or_password")) } }
                    } }
                }
            };
            return (self.0, no_store(), Html(body.into_string())).into_response();
        }
        message(self.0, self.1, self.2)
    }
}

pub(crate) fn message(status: StatusCode, lang: Lang, text: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head { meta charset="utf-8"; title { (lang.t("title")) } }
            body { main { h1 { (lang.t("title")) } p role="alert" { (text) } } }
        }
    };
    (status, no_store(), Html(body.into_string())).into_response()
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

pub(crate) fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn waited(ms: i64, lang: Lang) -> String {
    let minutes = ms.max(0) / 60_000;
    match (lang, minutes) {
        (Lang::En, m) if m < 60 => format!("{m} min"),
        (Lang::En, m) if m < 48 * 60 => format!("{} h", m / 60),
        (Lang::En, m) => format!("{} days", m / (24 * 60)),
        (Lang::ZhTw, m) if m < 60 => format!("{m} 分鐘"),
        (Lang::ZhTw, m) if m < 48 * 60 => format!("{} 小時", m / 60),
        (Lang::ZhTw, m) => format!("{} 日", m / (24 * 60)),
    }
}

/// A page for a signed-in approver; `sign_out`: the sign-out form's token when a password
/// sign-in's session cookie came with the request.
pub(crate) fn page(
    lang: Lang,
    user: &str,
    sign_out: Option<&str>,
    heading: &str,
    here: &str,
    content: Markup,
) -> Response {
    let other = match lang {
        Lang::En => "zh-TW",
        Lang::ZhTw => "en",
    };
    let q = format!("?lang={}", lang.code());
    let body = document(
        lang,
        heading,
        html! {
                    header {
                        p { (lang.t("signed_in")) " " strong { (user) } }
                        @if let Some(token) = sign_out {
                            form method="post" action="/desk/sign-out" {
                                input type="hidden" name="csrf" value=(token);
                                input type="hidden" name="lang" value=(lang.code());
                                button type="submit" { (lang.t("sign_out")) }
                            }
                        }
                        nav aria-label=(lang.t("title")) {
                            ul {
                                li { a href={ "/desk" (q) } { (lang.t("queue")) } }
                                li { a href={ "/desk/approved" (q) } { (lang.t("approved")) } }
                                li { a href={ "/desk/history" (q) } { (lang.t("history")) } }
                                li { a href={ "/desk/overview" (q) } { (lang.t("overview")) } }
                                li { a href={ (here) "?lang=" (other) } lang=(if other == "en" { "en" } else { "zh-Hant" }) { (lang.t("other_lang")) } }
                            }
                        }
                    }
                    main { h1 { (heading) } (content) }
        },
    );
    (StatusCode::OK, no_store(), Html(body.into_string())).into_response()
}

/// A whole page of the desk: the language, `<title>` "`title` — desk", the viewport and the
/// style sheet around `body`.
pub(crate) fn document(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("title")) }
                style { (maud::PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1rem 2rem;color:#1a1a1a}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #767676;padding:.4rem;text-align:left;vertical-align:top}\
nav ul{list-style:none;padding:0;display:flex;gap:1.5rem}a{color:#0645ad}\
.note{color:#595959;font-size:.9em}.soon{font-weight:bold;color:#8a1c00}\
textarea{width:100%}button{padding:.3rem .8rem}";

fn identity_note(r: &Record, lang: Lang) -> &'static str {
    match r.request.identity_source {
        crate::store::IdentitySource::Reported => lang.t("reported"),
        crate::store::IdentitySource::Kerberos => lang.t("kerberos"),
    }
}

fn requester(r: &Record) -> String {
    r.request.principal.clone().or_else(|| r.request.os_user.clone()).unwrap_or_default()
}

pub(crate) fn service_name(app: &App, id: &str, lang: Lang) -> String {
    match app.desk.policy().services().iter().find(|s| s.id == id) {
        Some(s) => match lang {
            Lang::En => s.name.en.clone(),
            Lang::ZhTw => s.name.zh_tw.clone(),
        },
        None => id.to_owned(),
    }
}

/// A category's name in `lang` (the policy's, else the built-in catalogue's), or its id.
pub(crate) fn category_name(app: &App, id: &str, lang: Lang) -> String {
    app.desk.policy().categories().get(id).map_or_else(
        || id.to_owned(),
        |c| match lang {
            Lang::En => c.name.en.clone(),
            Lang::ZhTw => c.name.zh_tw.clone(),
        },
    )
}

pub(crate) async fn queue(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let (user, rights) = approver(&app, &headers, lang).await?;
    let Ok(pending) = app.desk.store.list("pending", MAX_ROWS).await else {
        return Ok(message(StatusCode::SERVICE_UNAVAILABLE, lang, "The database does not answer."));
    };
    let rows: Vec<&Record> =
        pending.iter().filter(|r| rights.may_decide(&r.request.category)).collect();
    let csrf = app.access.csrf.token(&user);
    let now = now_ms();
    let max = app.desk.max_days();
    let content = html! {
        @if q.done.is_some() { p role="status" { (lang.t("done")) } }
        @if rows.is_empty() { p { (lang.t("none")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("requester")) } th scope="col" { (lang.t("machine")) }
                    th scope="col" { (lang.t("service")) } th scope="col" { (lang.t("category")) }
                    th scope="col" { (lang.t("justification")) } th scope="col" { (lang.t("days_asked")) }
                    th scope="col" { (lang.t("waiting")) } th scope="col" { (lang.t("decide")) }
                } }
                tbody {
                    @for r in &rows {
                        @let id = &r.request.id;
                        tr {
                            td { (requester(r)) br; span class="note" { "(" (identity_note(r, lang)) ")" } }
                            td { (r.request.machine) }
                            td { (service_name(&app, &r.request.service, lang)) }
                            td { (category_name(&app, &r.request.category, lang)) }
                            td { (r.request.justification) }
                            td { (r.request.days_requested) }
                            td { (waited(now - r.request.created_ms, lang)) }
                            td {
                                form method="post" action={ "/desk/requests/" (id) "/approve" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="lang" value=(lang.code());
                                    label for={ "days-" (id) } { (lang.t("days")) " " }
                                    input id={ "days-" (id) } type="number" name="days" min="1" max=(r.request.days_requested.clamp(1, i64::from(max)))
                                        value=(r.request.days_requested.clamp(1, i64::from(max))) required;
                                    " " button type="submit" { (lang.t("approve")) }
                                }
                                form method="post" action={ "/desk/requests/" (id) "/deny" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="lang" value=(lang.code());
                                    label for={ "reason-" (id) } { (lang.t("reason")) }
                                    textarea id={ "reason-" (id) } name="reason" rows="2" maxlength="2000" required {}
                                    button type="submit" { (lang.t("deny")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let sign_out = crate::signin::sign_out_token(&app, &headers);
    Ok(page(lang, &user, sign_out.as_deref(), lang.t("queue"), "/desk", content))
}

pub(crate) async fn in_force(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let (user, rights) = approver(&app, &headers, lang).await?;
    let Ok(approved) = app.desk.store.list("approved", MAX_ROWS).await else {
        return Ok(message(StatusCode::SERVICE_UNAVAILABLE, lang, "The database does not answer."));
    };
    let now = now_ms();
    let mut rows: Vec<(&Record, i64)> = approved
        .iter()
        .filter(|r| rights.may_decide(&r.request.category))
        .filter_map(|r| match &r.state {
            RecordState::Approved { revoked: None, expires_ms, .. } if *expires_ms > now => {
                Some((r, *expires_ms))
            }
            _ => None,
        })
        .collect();
    rows.sort_by_key(|(_, ends)| *ends);
    let csrf = app.access.csrf.token(&user);
    let content = html! {
        @if q.done.is_some() { p role="status" { (lang.t("done")) } }
        @if rows.is_empty() { p { (lang.t("none")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("requester")) } th scope="col" { (lang.t("machine")) }
                    th scope="col" { (lang.t("service")) } th scope="col" { (lang.t("ends")) }
                    th scope="col" { (lang.t("approver")) } th scope="col" { (lang.t("revoke")) }
                } }
                tbody {
                    @for (r, ends) in &rows {
                        tr {
                            td { (requester(r)) }
                            td { (r.request.machine) }
                            td { (service_name(&app, &r.request.service, lang)) }
                            td {
                                (utc(*ends))
                                @if *ends - now < EXPIRING_DAYS * DAY_MS { " " span class="soon" { "(" (lang.t("expiring")) ")" } }
                            }
                            td { (r.decided.as_ref().map(|d| d.1.as_str()).unwrap_or("")) }
                            td {
                                form method="post" action={ "/desk/requests/" (r.request.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="lang" value=(lang.code());
                                    button type="submit" { (lang.t("revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let sign_out = crate::signin::sign_out_token(&app, &headers);
    Ok(page(lang, &user, sign_out.as_deref(), lang.t("approved"), "/desk/approved", content))
}

fn state_text(r: &Record, lang: Lang) -> &'static str {
    match &r.state {
        RecordState::Pending => lang.t("pending"),
        RecordState::Denied { .. } => lang.t("denied"),
        RecordState::Approved { revoked: Some(_), .. } => lang.t("revoked"),
        RecordState::Approved { .. } => lang.t("approved_state"),
    }
}

/// The history's columns, for the page and the CSV alike: the service by its catalogue name in
/// `lang` (the CSV puts its id before it, [`csv_row`]).
fn history_row(app: &App, r: &Record, lang: Lang) -> [String; 12] {
    let (granted, reason, revoked) = match &r.state {
        RecordState::Approved { days, revoked, .. } => (
            days.to_string(),
            String::new(),
            revoked.as_ref().map(|(at, by)| format!("{} ({by})", utc(*at))).unwrap_or_default(),
        ),
        RecordState::Denied { reason } => (String::new(), reason.clone(), String::new()),
        RecordState::Pending => (String::new(), String::new(), String::new()),
    };
    [
        utc(r.request.created_ms),
        requester(r),
        identity_note(r, lang).to_owned(),
        r.request.machine.clone(),
        service_name(app, &r.request.service, lang),
        r.request.justification.clone(),
        r.request.days_requested.to_string(),
        state_text(r, lang).to_owned(),
        r.decided.as_ref().map(|(at, by)| format!("{} ({by})", utc(*at))).unwrap_or_default(),
        granted,
        reason,
        revoked,
    ]
}

fn history_header(lang: Lang) -> [&'static str; 12] {
    [
        lang.t("created"),
        lang.t("requester"),
        "",
        lang.t("machine"),
        lang.t("service"),
        lang.t("justification"),
        lang.t("days_asked"),
        lang.t("state"),
        lang.t("decided"),
        lang.t("days_granted"),
        lang.t("reason"),
        lang.t("revoked"),
    ]
}

async fn visible_history(app: &App, rights: &Rights) -> Option<Vec<Record>> {
    let all = app.desk.store.history(MAX_ROWS).await.ok()?;
    Some(all.into_iter().filter(|r| rights.may_decide(&r.request.category)).collect())
}

pub(crate) async fn history(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let (user, rights) = approver(&app, &headers, lang).await?;
    let Some(rows) = visible_history(&app, &rights).await else {
        return Ok(message(StatusCode::SERVICE_UNAVAILABLE, lang, "The database does not answer."));
    };
    let content = html! {
        p { a href={ "/desk/history.csv?lang=" (lang.code()) } download { (lang.t("csv")) } }
        @if rows.is_empty() { p { (lang.t("none")) } } @else {
            table {
                thead { tr { @for h in history_header(lang) { th scope="col" { (h) } } } }
                tbody { @for r in &rows { tr { @for cell in history_row(&app, r, lang) { td { (cell) } } } } }
            }
        }
    };
    let sign_out = crate::signin::sign_out_token(&app, &headers);
    Ok(page(lang, &user, sign_out.as_deref(), lang.t("history"), "/desk/history", content))
}

/// The service column of the history, in the CSV: the id before the name, so that a
/// spreadsheet can match the policy's ids whatever the language.
const CSV_SERVICE_AT: usize = 4;

/// A history row for the CSV: [`history_row`] with the service's id before its name.
fn csv_row(app: &App, r: &Record, lang: Lang) -> Vec<String> {
    let mut row = history_row(app, r, lang).to_vec();
    row.insert(CSV_SERVICE_AT, r.request.service.clone());
    row
}

/// One CSV field (RFC 4180), with a leading `'` on text a spreadsheet would run as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub(crate) async fn history_csv(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let (_user, rights) = approver(&app, &headers, lang).await?;
    let Some(rows) = visible_history(&app, &rights).await else {
        return Ok(message(StatusCode::SERVICE_UNAVAILABLE, lang, "The database does not answer."));
    };
    // A byte-order mark, so that spreadsheets read the Chinese text as UTF-8.
    let mut out = String::from("\u{feff}");
    let mut header = history_header(lang).map(str::to_owned).to_vec();
    header[2] = "identity".into();
    header.insert(CSV_SERVICE_AT, "service_id".into());
    out.push_str(&header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    for r in &rows {
        out.push_str(
            &csv_row(&app, r, lang).iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","),
        );
        out.push_str("\r\n");
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"gatehouse-approvals.csv\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        out,
    )
        .into_response())
}

/// The checks every change passes: an approver, the same site, the user's CSRF token, a desk
/// id, and the request's category among those the approver decides.
async fn change_allowed(
    app: &App,
    headers: &HeaderMap,
    id: &str,
    form: &DecisionForm,
    lang: Lang,
) -> Result<String, Refusal> {
    let (user, rights) = approver(app, headers, lang).await?;
    // Browsers say where a form came from; a cross-site one is refused whatever it carries.
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err(Refusal(StatusCode::FORBIDDEN, lang, "Cross-site form refused."));
    }
    if !app.access.csrf.check(&user, &form.csrf) {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            lang,
            "The form has expired: reload the page and try again.",
        ));
    }
    let not_found = || Refusal(StatusCode::NOT_FOUND, lang, "No such request.");
    if !is_id(id) {
        return Err(not_found());
    }
    let record = match app.desk.store.get(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(not_found()),
        Err(_) => {
            return Err(Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "The database does not answer.",
            ))
        }
    };
    if !rights.may_decide(&record.request.category) {
        tracing::warn!(user = %user, request = id, category = %record.request.category, "approver of another category refused");
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            lang,
            "You do not decide requests in this category.",
        ));
    }
    Ok(user)
}

/// Mails the requester about a decision just recorded.
async fn tell_requester(app: &App, id: &str, result: &Result<(), DecideError>) {
    if let (Ok(()), Some(mailer)) = (result, &app.mailer) {
        if let Ok(Some(record)) = app.desk.store.get(id).await {
            mailer.decided(&record);
        }
    }
}

fn decided(result: Result<(), DecideError>, lang: Lang, back: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("{back}?lang={}&done=1", lang.code())).into_response(),
        Err(e @ (DecideError::AlreadyDecided(_) | DecideError::NotRevocable(_))) => {
            message(StatusCode::CONFLICT, lang, &e.to_string())
        }
        Err(DecideError::NotFound(_)) => message(StatusCode::NOT_FOUND, lang, "No such request."),
        Err(
            e @ (DecideError::Issue(_) | DecideError::NoReason | DecideError::MoreThanAsked { .. }),
        ) => message(StatusCode::UNPROCESSABLE_ENTITY, lang, &e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "a decision failed");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "The decision could not be recorded; try again.",
            )
        }
    }
}

pub(crate) async fn approve(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(form.lang.as_deref(), &headers);
    let user = change_allowed(&app, &headers, &id, &form, lang).await?;
    let Some(days) = form.days.as_deref().and_then(|d| d.trim().parse::<u32>().ok()) else {
        return Ok(message(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            "days: give a whole number of days.",
        ));
    };
    let result = app.desk.approve(&id, &user, days, now_ms()).await.map(|_| ());
    tell_requester(&app, &id, &result).await;
    Ok(decided(result, lang, "/desk"))
}

pub(crate) async fn deny(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(form.lang.as_deref(), &headers);
    let user = change_allowed(&app, &headers, &id, &form, lang).await?;
    let reason = form.reason.clone().unwrap_or_default();
    let result = app.desk.deny(&id, &user, &reason, now_ms()).await;
    tell_requester(&app, &id, &result).await;
    Ok(decided(result, lang, "/desk"))
}

pub(crate) async fn revoke(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(form.lang.as_deref(), &headers);
    let user = change_allowed(&app, &headers, &id, &form, lang).await?;
    Ok(decided(app.desk.revoke(&id, &user, now_ms()).await, lang, "/desk/approved"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
    }
}
