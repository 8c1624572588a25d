//! The compliance overview (`GET /desk/overview`): what a department shows when it reports on
//! the guideline — approvals in force by category and by service, requests per week, decisions
//! and the time they took, and the policy's adaptation schedule. Charts are SVG drawn on the
//! server (no script), each with the same numbers in a table beside it; English and Traditional
//! Chinese. An approver sees the categories they decide.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};

use crate::pages::{
    approver, category_name, message, page, service_name, utc, Lang, LangQuery, Refusal,
};
use crate::server::{now_ms, App};
use crate::store::{Record, State as RecordState};

pub(crate) const WEEK_MS: i64 = 7 * 86_400_000;
pub(crate) const WEEKS: i64 = 12;

/// The figures, computed from the records at `now_ms`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Approvals in force by category.
    pub by_category: BTreeMap<String, u64>,
    /// Approvals in force by service.
    pub by_service: BTreeMap<String, u64>,
    /// Requests per week, oldest first (`WEEKS` weeks ending now): (week start ms, count).
    pub per_week: Vec<(i64, u64)>,
    /// Approved, denied, pending.
    pub decisions: (u64, u64, u64),
    /// Median and 90th percentile of the time to decision, in ms.
    pub time_to_decision: Option<(i64, i64)>,
}

impl Figures {
    /// Nothing counted yet: the `WEEKS` weeks ending at `now_ms`, each with 0 requests.
    pub fn empty(now_ms: i64) -> Self {
        let first_week = now_ms - WEEKS * WEEK_MS;
        Self {
            per_week: (0..WEEKS).map(|i| (first_week + i * WEEK_MS, 0)).collect(),
            ..Self::default()
        }
    }
}

/// Counts what `records` show at `now_ms`: the reference for [`crate::store::Store::overview`],
/// which the page uses (the database counts; no record is read).
pub fn figures(records: &[Record], now_ms: i64) -> Figures {
    let mut f = Figures::default();
    let first_week = now_ms - WEEKS * WEEK_MS;
    let mut weeks = vec![0u64; WEEKS as usize];
    let mut waits = Vec::new();
    for r in records {
        match &r.state {
            RecordState::Approved { revoked: None, expires_ms, .. } if *expires_ms > now_ms => {
                *f.by_category.entry(r.request.category.clone()).or_default() += 1;
                *f.by_service.entry(r.request.service.clone()).or_default() += 1;
                f.decisions.0 += 1;
            }
            RecordState::Approved { .. } => f.decisions.0 += 1,
            RecordState::Denied { .. } => f.decisions.1 += 1,
            RecordState::Pending => f.decisions.2 += 1,
        }
        if let Some((at, _)) = &r.decided {
            waits.push(at - r.request.created_ms);
        }
        let since = r.request.created_ms - first_week;
        if since >= 0 && r.request.created_ms <= now_ms {
            if let Some(w) = weeks.get_mut((since / WEEK_MS) as usize) {
                *w += 1;
            }
        }
    }
    f.per_week =
        weeks.into_iter().enumerate().map(|(i, n)| (first_week + i as i64 * WEEK_MS, n)).collect();
    waits.sort_unstable();
    if !waits.is_empty() {
        let at = |p: usize| waits[(waits.len() * p / 100).min(waits.len() - 1)];
        f.time_to_decision = Some((at(50), at(90)));
    }
    f
}

/// A horizontal bar chart: one bar per (label, value), labelled with both.
fn bars(title: &str, rows: &[(String, u64)]) -> Markup {
    const ROW: u64 = 26;
    const WIDTH: u64 = 640;
    const LABEL: u64 = 220;
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * rows.len().max(1) as u64 + 8;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height) viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(title) {
            title { (title) }
            @for (i, (label, value)) in rows.iter().enumerate() {
                @let y = 4 + ROW * i as u64;
                @let w = (WIDTH - LABEL - 60) * value / max;
                text x="0" y=(y + 17) font-size="14" fill="#1a1a1a" { (label) }
                rect x=(LABEL) y=(y + 3) width=(w.max(1)) height="18" fill="#1f5fa8" {}
                text x=(LABEL + w + 6) y=(y + 17) font-size="14" fill="#1a1a1a" { (value) }
            }
        }
    }
}

fn table(caption: &str, head: (&str, &str), rows: &[(String, u64)]) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead { tr { th scope="col" { (head.0) } th scope="col" { (head.1) } } }
            tbody { @for (label, value) in rows { tr { th scope="row" { (label) } td { (value) } } } }
        }
    }
}

fn hours(ms: i64, lang: Lang) -> String {
    let h = ms as f64 / 3_600_000.0;
    match lang {
        Lang::En => format!("{h:.1} h"),
        Lang::ZhTw => format!("{h:.1} 小時"),
    }
}

pub(crate) async fn overview(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<Response, Refusal> {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let (user, rights) = approver(&app, &headers, lang).await?;
    let scope: Option<Vec<String>> =
        (!rights.all).then(|| rights.categories.iter().cloned().collect());
    let Ok(f) = app.desk.store.overview(now_ms(), scope.as_deref()).await else {
        return Ok(message(StatusCode::SERVICE_UNAVAILABLE, lang, "The database does not answer."));
    };
    let policy = app.desk.policy();
    let by_category: Vec<(String, u64)> =
        f.by_category.iter().map(|(c, n)| (category_name(&app, c, lang), *n)).collect();
    let by_service: Vec<(String, u64)> =
        f.by_service.iter().map(|(s, n)| (service_name(&app, s, lang), *n)).collect();
    let per_week: Vec<(String, u64)> =
        f.per_week.iter().map(|(start, n)| (utc(*start)[..10].to_owned(), *n)).collect();
    let decisions = vec![
        (lang.t("approved_state").to_owned(), f.decisions.0),
        (lang.t("denied").to_owned(), f.decisions.1),
        (lang.t("pending").to_owned(), f.decisions.2),
    ];
    let content = html! {
        h2 { (lang.t("in_force_by_category")) }
        (bars(lang.t("in_force_by_category"), &by_category))
        (table(lang.t("in_force_by_category"), (lang.t("category"), lang.t("count")), &by_category))
        h2 { (lang.t("in_force_by_service")) }
        (bars(lang.t("in_force_by_service"), &by_service))
        (table(lang.t("in_force_by_service"), (lang.t("service"), lang.t("count")), &by_service))
        h2 { (lang.t("per_week")) }
        (bars(lang.t("per_week"), &per_week))
        (table(lang.t("per_week"), (lang.t("week_of"), lang.t("count")), &per_week))
        h2 { (lang.t("decisions")) }
        (bars(lang.t("decisions"), &decisions))
        (table(lang.t("decisions"), (lang.t("state"), lang.t("count")), &decisions))
        @if let Some((median, p90)) = f.time_to_decision {
            p { (lang.t("time_to_decision")) (lang.t("label_sep")) (lang.t("median")) " " (hours(median, lang)) (lang.t("list_sep")) (lang.t("p90")) " " (hours(p90, lang)) }
        }
        h2 { (lang.t("schedule")) }
        table {
            thead { tr { th scope="col" { (lang.t("category")) } th scope="col" { (lang.t("mode")) } th scope="col" { (lang.t("adaptation_end")) } } }
            tbody {
                @for (id, c) in policy.categories() {
                    tr {
                        th scope="row" { (category_name(&app, id, lang)) }
                        td { (lang.t(mode_key(c.mode))) }
                        td { (c.adaptation_end_ms.map(utc).unwrap_or_default()) }
                    }
                }
            }
        }
    };
    let sign_out = crate::signin::sign_out_token(&app, &headers);
    Ok(page(lang, &user, sign_out.as_deref(), lang.t("overview"), "/desk/overview", content))
}

/// The page text key of a category's mode.
fn mode_key(mode: gatehouse_core::Mode) -> &'static str {
    match mode {
        gatehouse_core::Mode::Off => "mode_off",
        gatehouse_core::Mode::Monitor => "mode_monitor",
        gatehouse_core::Mode::Warn => "mode_warn",
        gatehouse_core::Mode::Block => "mode_block",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IdentitySource, NewRequest};

    fn record(
        created_ms: i64,
        category: &str,
        service: &str,
        state: RecordState,
        decided: Option<i64>,
    ) -> Record {
        Record {
            request: NewRequest {
                id: format!("{created_ms}"),
                client_request_id: format!("c{created_ms}"),
                created_ms,
                principal: Some("alice@corp.example".into()),
                os_user: None,
                machine: "WS01".into(),
                identity_source: IdentitySource::Reported,
                service: service.into(),
                category: category.into(),
                origin: None,
                justification: "because of reasons".into(),
                days_requested: 7,
            },
            state,
            decided: decided.map(|at| (at, "bob".into())),
        }
    }

    #[test]
    fn figures_count_what_is_in_force_and_how_long_decisions_took() {
        let now = 100 * WEEK_MS;
        let approved = |expires_ms, revoked: Option<(i64, String)>| RecordState::Approved {
            token: "t".into(),
            jti: "j".into(),
            kid: "k".into(),
            expires_ms,
            days: 7,
            revoked,
        };
        let h = 3_600_000;
        let records = vec![
            record(now - h, "webmail", "gmail", approved(now + WEEK_MS, None), Some(now)),
            record(
                now - 2 * WEEK_MS,
                "webmail",
                "gmail",
                approved(now + 1, None),
                Some(now - 2 * WEEK_MS + 3 * h),
            ),
            record(now - 3 * h, "webmail", "outlook", approved(now - 1, None), Some(now - 2 * h)),
            record(
                now - 4 * h,
                "cloud_storage",
                "dropbox",
                approved(now + 1, Some((now, "bob".into()))),
                Some(now - 3 * h),
            ),
            record(
                now - 5 * h,
                "cloud_storage",
                "dropbox",
                RecordState::Denied { reason: "no".into() },
                Some(now - h),
            ),
            record(now - 20 * WEEK_MS, "cloud_storage", "dropbox", RecordState::Pending, None),
        ];
        let f = figures(&records, now);
        assert_eq!(f.by_category, BTreeMap::from([("webmail".into(), 2)]));
        assert_eq!(f.by_service, BTreeMap::from([("gmail".into(), 2)]));
        assert_eq!(f.decisions, (4, 1, 1));
        assert_eq!(f.per_week.len(), 12);
        assert_eq!(
            f.per_week.iter().map(|(_, n)| n).sum::<u64>(),
            5,
            "the 20-week-old request is outside"
        );
        assert_eq!(f.per_week[11].1, 4);
        assert_eq!(f.time_to_decision, Some((h, 4 * h)));
    }
}
