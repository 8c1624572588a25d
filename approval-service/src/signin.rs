//! The LDAP-bind sign-in, the fallback for approvers whose browser cannot do Kerberos
//! (`auth.password_sign_in`): a form at `/desk/sign-in` takes the domain user name and password,
//! the desk binds to the directory as that user over TLS ([`Directory::check_password`]), and a
//! signed session cookie (HttpOnly, SameSite=Strict, Secure on an https desk, path `/desk`)
//! then stands for the sign-in for [`SESSION_HOURS`] hours, until the desk restarts (the key
//! is made at start-up, as for the CSRF tokens), or until the user signs out (the cookie is
//! cleared and its value refused from then on, in this process).
//!
//! | route | what |
//! |---|---|
//! | `GET /desk/sign-in` | the form; sets the form's one-time cookie |
//! | `POST /desk/sign-out` | `csrf` → the session ended, back to the form |
//! | `POST /desk/sign-in` | `user`, `password`, `csrf` → the session cookie and `/desk`, or the form again (403; 429 after repeated failures; 503 when the directory does not answer) |
//!
//! The form is protected like the approvers' forms: same-site only (`Sec-Fetch-Site`), and a
//! token bound to a random value in a SameSite=Strict cookie (so another site can neither post
//! it nor sign a browser in as someone else). Failed attempts are limited per user name.
//! The password is never logged or stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use maud::html;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::directory::Directory;
use crate::pages::{Lang, LangQuery};
use crate::server::{now_ms, App};

/// How long a password sign-in lasts.
pub const SESSION_HOURS: i64 = 8;
/// The session cookie.
pub const SESSION_COOKIE: &str = "gatehouse_session";
/// The sign-in form's one-time cookie.
const FORM_COOKIE: &str = "gatehouse_sign_in";
/// Failed sign-ins allowed per user name in [`FAILURE_WINDOW_MS`].
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW_MS: i64 = 15 * 60_000;

/// Signs and checks session cookies, and counts failed sign-ins.
pub struct Sessions {
    key: [u8; 32],
    secure: bool,
    failures: Mutex<HashMap<String, (i64, u32)>>,
    /// Cookie values signed out before their expiry, with that expiry.
    ended: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("secure", &self.secure).finish_non_exhaustive()
    }
}

impl Sessions {
    /// A new random key; `secure`: the desk is reached over https (cookies get `Secure`).
    ///
    /// # Errors
    /// When the operating system has no randomness.
    pub fn new(secure: bool) -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self {
            key,
            secure,
            failures: Mutex::new(HashMap::new()),
            ended: Mutex::new(HashMap::new()),
        })
    }

    fn mac(&self, user: &str, expires_ms: i64) -> Vec<u8> {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else { return Vec::new() };
        mac.update(b"gatehouse-approval session\0");
        mac.update(user.as_bytes());
        mac.update(b"\0");
        mac.update(expires_ms.to_string().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The cookie value for `user`, valid until `expires_ms`.
    pub fn issue(&self, user: &str, expires_ms: i64) -> String {
        format!(
            "{}.{expires_ms}.{}",
            URL_SAFE_NO_PAD.encode(user),
            URL_SAFE_NO_PAD.encode(self.mac(user, expires_ms))
        )
    }

    /// The user a cookie value stands for, if it is one of ours and has not expired.
    pub fn verify(&self, value: &str, now_ms: i64) -> Option<String> {
        let mut parts = value.split('.');
        let (user, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || value.len() > 1024 {
            return None;
        }
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
        let expires_ms: i64 = expires.parse().ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(&user, expires_ms);
        let good = !expected.is_empty() && bool::from(expected.as_slice().ct_eq(&mac));
        let ended = self.ended.lock().map_or(true, |e| e.contains_key(value));
        (good && now_ms < expires_ms && !ended).then_some(user)
    }

    /// Ends the session `value` stands for: refused from now on, though the browser may keep it.
    fn end(&self, value: &str, now_ms: i64) {
        let Some(expires_ms) = value.split('.').nth(1).and_then(|e| e.parse::<i64>().ok()) else {
            return;
        };
        if let Ok(mut ended) = self.ended.lock() {
            ended.retain(|_, until| *until > now_ms);
            ended.insert(value.to_owned(), expires_ms);
        }
    }

    /// Whether `login` may try again now (fewer than [`MAX_FAILURES`] recent failures).
    fn may_try(&self, login: &str, now_ms: i64) -> bool {
        let Ok(map) = self.failures.lock() else { return false };
        match map.get(login) {
            Some((start, n)) if now_ms - start < FAILURE_WINDOW_MS => *n < MAX_FAILURES,
            _ => true,
        }
    }

    fn failed(&self, login: &str, now_ms: i64) {
        let Ok(mut map) = self.failures.lock() else { return };
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now_ms - *start < FAILURE_WINDOW_MS);
        }
        let entry = map.entry(login.to_owned()).or_insert((now_ms, 0));
        if now_ms - entry.0 >= FAILURE_WINDOW_MS {
            *entry = (now_ms, 0);
        }
        entry.1 += 1;
    }

    fn cookie(&self, name: &str, value: &str, path: &str, max_age_s: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}"
        )
    }
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The user a valid session cookie names, when password sign-in is on.
pub(crate) fn session_user(app: &App, headers: &HeaderMap) -> Option<String> {
    let sessions = app.access.sessions.as_ref()?;
    sessions.verify(cookie(headers, SESSION_COOKIE)?, now_ms())
}

/// The sign-out form's token, when the request carries a valid session cookie.
pub(crate) fn sign_out_token(app: &App, headers: &HeaderMap) -> Option<String> {
    session_user(app, headers).map(|user| app.access.csrf.token(&user))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignOutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: Option<String>,
}

pub(crate) async fn sign_out(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<SignOutForm>,
) -> Response {
    let lang = Lang::pick(f.lang.as_deref(), &headers);
    let Some((sessions, _)) = enabled(&app) else { return not_found(lang) };
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return crate::pages::message(StatusCode::FORBIDDEN, lang, "Cross-site form refused.");
    }
    let value = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let now = now_ms();
    let Some(user) = sessions.verify(value, now) else {
        return Redirect::to(&format!("/desk/sign-in?lang={}", lang.code())).into_response();
    };
    if !app.access.csrf.check(&user, &f.csrf) {
        return crate::pages::message(
            StatusCode::FORBIDDEN,
            lang,
            "The form has expired: reload the page and try again.",
        );
    }
    sessions.end(value, now);
    tracing::info!(user = %user, "signed out");
    let mut response = Redirect::to(&format!("/desk/sign-in?lang={}", lang.code())).into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions.cookie(SESSION_COOKIE, "", "/desk", 0)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: Option<String>,
}

fn enabled(app: &App) -> Option<(&Sessions, &Directory)> {
    Some((app.access.sessions.as_ref()?, app.access.directory.as_ref()?))
}

fn not_found(lang: Lang) -> Response {
    crate::pages::message(StatusCode::NOT_FOUND, lang, "Password sign-in is off on this desk.")
}

/// The form's token for the one-time value in its cookie.
fn form_token(app: &App, nonce: &str) -> String {
    app.access.csrf.token(&format!("sign-in\0{nonce}"))
}

fn form(
    app: &App,
    sessions: &Sessions,
    lang: Lang,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        return crate::pages::message(StatusCode::SERVICE_UNAVAILABLE, lang, "Try again.");
    }
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let body = crate::pages::document(
        lang,
        lang.t("sign_in"),
        html! {
                    main {
                        h1 { (lang.t("sign_in")) }
                        p { (lang.t("sign_in_hint")) }
                        @if let Some(e) = error { p role="alert" { (e) } }
                        form method="post" action="/desk/sign-in" {
                            input type="hidden" name="csrf" value=(form_token(app, &nonce));
                            input type="hidden" name="lang" value=(lang.code());
                            p {
                                label for="user" { (lang.t("user_name")) }
                                " "
                                input id="user" name="user" type="text" autocomplete="username" required;
                            }
                            p {
                                label for="password" { (lang.t("password")) }
                                " "
                                input id="password" name="password" type="password" autocomplete="current-password" required;
                            }
                            p { button type="submit" { (lang.t("sign_in")) } }
                        }
                    }
        },
    );
    let mut response = (status, Html(body.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) =
        HeaderValue::from_str(&sessions.cookie(FORM_COOKIE, &nonce, "/desk/sign-in", 600))
    {
        headers.append(header::SET_COOKIE, v);
    }
    response
}

pub(crate) async fn sign_in_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let Some((sessions, _)) = enabled(&app) else { return not_found(lang) };
    form(&app, sessions, lang, StatusCode::OK, None)
}

pub(crate) async fn sign_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let lang = Lang::pick(f.lang.as_deref(), &headers);
    let Some((sessions, directory)) = enabled(&app) else { return not_found(lang) };
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return crate::pages::message(StatusCode::FORBIDDEN, lang, "Cross-site form refused.");
    }
    let fresh = cookie(&headers, FORM_COOKIE)
        .is_some_and(|nonce| app.access.csrf.check(&format!("sign-in\0{nonce}"), &f.csrf));
    if !fresh {
        return form(&app, sessions, lang, StatusCode::FORBIDDEN, Some(lang.t("form_expired")));
    }
    // Failures count per account, however the name is spelled (`bob`, `BOB@corp.example`).
    let login = f.user.trim().to_lowercase();
    let login = login.rsplit_once('@').map_or(login.as_str(), |(name, _)| name).to_owned();
    let now = now_ms();
    if !sessions.may_try(&login, now) {
        tracing::warn!(login = %login, "password sign-in: too many failures");
        return form(
            &app,
            sessions,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some(lang.t("sign_in_wait")),
        );
    }
    match directory.check_password(&f.user, &f.password).await {
        Ok(Some(user)) => {
            tracing::info!(user = %user, "signed in with the domain password (LDAP bind)");
            let expires = now + SESSION_HOURS * 3_600_000;
            let cookie = sessions.cookie(
                SESSION_COOKIE,
                &sessions.issue(&user, expires),
                "/desk",
                SESSION_HOURS * 3600,
            );
            let mut response = Redirect::to(&format!("/desk?lang={}", lang.code())).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            if let Ok(v) =
                HeaderValue::from_str(&sessions.cookie(FORM_COOKIE, "", "/desk/sign-in", 0))
            {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Ok(None) => {
            sessions.failed(&login, now);
            tracing::warn!(login = %login, "password sign-in refused");
            // 403, not 401: a 401 carries the Negotiate challenge, and a browser answering it
            // would post the password again.
            form(&app, sessions, lang, StatusCode::FORBIDDEN, Some(lang.t("sign_in_failed")))
        }
        Err(e) => {
            tracing::error!(error = %e, "password sign-in: the directory did not answer");
            form(
                &app,
                sessions,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(crate::pages::DIRECTORY_DOWN_SIGN_IN),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_signed_and_expire() {
        let s = Sessions::new(true).unwrap();
        let v = s.issue("bob@CORP.EXAMPLE", 2_000);
        assert_eq!(s.verify(&v, 1_000).as_deref(), Some("bob@CORP.EXAMPLE"));
        assert_eq!(s.verify(&v, 2_000), None, "expired");
        // Another user's name, a later expiry, another key: all refused.
        let (_, rest) = v.split_once('.').unwrap();
        let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode("mallory@CORP.EXAMPLE"));
        assert_eq!(s.verify(&forged, 1_000), None);
        let later = v.replace(".2000.", ".9999999.");
        assert_eq!(s.verify(&later, 1_000), None);
        assert_eq!(Sessions::new(true).unwrap().verify(&v, 1_000), None);
        // Signed out: refused from then on.
        s.end(&v, 1_000);
        assert_eq!(s.verify(&v, 1_001), None);
        let w = s.issue("bob@CORP.EXAMPLE", 3_000);
        assert_eq!(s.verify(&w, 1_001).as_deref(), Some("bob@CORP.EXAMPLE"));
        for junk in ["", ".", "a.b.c", "a.b.c.d", &format!("{v}.x")] {
            assert_eq!(s.verify(junk, 1_000), None, "{junk:?}");
        }
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_on_https() {
        let c = Sessions::new(true).unwrap().cookie(SESSION_COOKIE, "v", "/desk", 60);
        assert_eq!(
            c,
            "gatehouse_session=v; Path=/desk; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        let c = Sessions::new(false).unwrap().cookie(SESSION_COOKIE, "v", "/desk", 60);
        assert!(!c.contains("Secure"), "{c}");
    }

    #[test]
    fn failures_are_limited_per_name() {
        let s = Sessions::new(true).unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try("bob", 0));
            s.failed("bob", 0);
        }
        assert!(!s.may_try("bob", 1));
        assert!(s.may_try("carol", 1));
        assert!(s.may_try("bob", FAILURE_WINDOW_MS));
    }

    #[test]
    fn the_cookie_is_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; gatehouse_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "gatehouse"), None);
    }
}
