//! Mail (lettre, SMTP): to the approvers of a category when a request arrives, and to the
//! requester when it is decided. Sent in the background: a mail server that is slow or down
//! never holds up a request or a decision (the failure is logged; the pages and the status
//! URL stay the record).
//!
//! The requester's address is their principal when it is a mail address (a UPN such as
//! `alice@corp.example` that the mail system routes); otherwise no mail is sent to them.
//! Plain SMTP to the intranet relay: no STARTTLS or authentication yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::store::{NewRequest, Record};

/// The mail settings (`[mail]` in the configuration), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// The relay's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The sender.
    pub from: String,
    /// Who hears of every new request.
    pub approvers: Vec<String>,
    /// Who hears of new requests in one category.
    pub by_category: BTreeMap<String, Vec<String>>,
}

/// Sends the desk's mail.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    approvers: Vec<Mailbox>,
    by_category: BTreeMap<String, Vec<Mailbox>>,
    public_url: Arc<str>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

/// A mail setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("mail.{key}: {value:?} is not a mail address (write \"name@example.org\" or \"Name <name@example.org>\")")]
pub struct BadAddress {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

impl Mailer {
    /// A mailer for `config`; links point into `public_url`.
    ///
    /// # Errors
    /// [`BadAddress`] naming the key.
    pub fn new(config: &MailConfig, public_url: &str) -> Result<Self, BadAddress> {
        let parse = |key: &str, v: &str| {
            v.parse::<Mailbox>()
                .map_err(|_| BadAddress { key: key.to_owned(), value: v.to_owned() })
        };
        let from = parse("from", &config.from)?;
        let approvers =
            config.approvers.iter().map(|a| parse("approvers", a)).collect::<Result<_, _>>()?;
        let mut by_category = BTreeMap::new();
        for (category, list) in &config.by_category {
            let key = format!("categories.{category}");
            by_category.insert(
                category.clone(),
                list.iter().map(|a| parse(&key, a)).collect::<Result<_, _>>()?,
            );
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Self { transport, from, approvers, by_category, public_url: public_url.into() })
    }

    /// Tells the approvers of the request's category (and those of every category).
    pub fn new_request(&self, r: &NewRequest) {
        let mut to: Vec<Mailbox> = self.approvers.clone();
        to.extend(self.by_category.get(&r.category).into_iter().flatten().cloned());
        to.dedup();
        if to.is_empty() {
            return;
        }
        let who = r.principal.as_deref().or(r.os_user.as_deref()).unwrap_or("?");
        let subject = format!(
            "Gatehouse: {} asks for {} ({} days)",
            one_line(who),
            one_line(&r.service),
            r.days_requested
        );
        let body = format!(
            "{who} ({identity}) asks for {service} ({category}) for {days} days on {machine}.\n\n\
             Justification:\n{justification}\n\nDecide at {url}/desk\n",
            identity = r.identity_source.describe(),
            service = r.service,
            category = r.category,
            days = r.days_requested,
            machine = r.machine,
            justification = r.justification,
            url = self.public_url,
        );
        self.send(to, subject, body);
    }

    /// Tells the requester what was decided.
    pub fn decided(&self, record: &Record) {
        let Some(to) = record
            .request
            .principal
            .as_deref()
            .filter(|p| p.contains('@'))
            .and_then(|p| p.parse::<Mailbox>().ok())
        else {
            return;
        };
        let service = one_line(&record.request.service);
        let (subject, what) = match &record.state {
            crate::store::State::Approved { days, .. } => (
                format!("Gatehouse: {service} approved for {days} days"),
                format!("Your request for {service} was approved for {days} days. Gatehouse applies it by itself; if it does not, open the Gatehouse status page."),
            ),
            crate::store::State::Denied { reason } => (
                format!("Gatehouse: {service} not approved"),
                format!("Your request for {service} was not approved.\n\nReason:\n{reason}"),
            ),
            crate::store::State::Pending => return,
        };
        let body = format!("{what}\n\nRequest {}\n", record.request.id);
        self.send(vec![to], subject, body);
    }

    fn send(&self, to: Vec<Mailbox>, subject: String, body: String) {
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for m in &to {
            builder = builder.to(m.clone());
        }
        let message = match builder.body(body) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "a mail could not be built");
                return;
            }
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!(recipients = to.len(), "mail sent"),
                Err(e) => tracing::warn!(error = %e, "mail not sent"),
            }
        });
    }
}

/// Text for a header: control characters (line breaks above all) become spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect()
}
