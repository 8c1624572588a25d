//! Mail (lettre, SMTP): to the approvers of a category when a request arrives, and to the
//! requester when it is decided. Sent in the background: a mail server that is slow or down
//! never holds up a request or a decision (the failure is logged; the pages and the status
//! URL stay the record).
//!
//! The requester's address is their principal when it is a mail address (a UPN such as
//! `alice@corp.example` that the mail system routes); otherwise no mail is sent to them.
//!
//! To the relay over STARTTLS by default (`mail.tls`; required, never a silent fall-back to
//! clear text), or TLS from the first byte, or plain SMTP for a relay on the same machine; the
//! relay's certificate checked against the system's store or `mail.ca_file`; SMTP AUTH with
//! `mail.username` and the owner-only `mail.password_file` (never logged).

use std::collections::BTreeMap;
use std::error::Error as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
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
    /// How the connection to the relay is protected.
    pub tls: MailTls,
    /// PEM file with the CA certificate(s) the relay's certificate chains to; `None`: the
    /// system's store.
    pub ca_file: Option<PathBuf>,
    /// SMTP AUTH: the user name and the owner-only file holding the password.
    pub auth: Option<(String, PathBuf)>,
}

/// How the connection to the relay is protected (`mail.tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailTls {
    /// `"starttls"` (the default): plain SMTP upgraded with STARTTLS, which the relay must
    /// offer — a relay that does not is an error, never a fall-back to clear text. Port 25 or
    /// 587.
    #[default]
    StartTls,
    /// `"tls"`: TLS from the first byte (SMTPS, port 465).
    Tls,
    /// `"none"`: clear text, for a relay on the same machine.
    None,
}

impl MailTls {
    /// The value as written in the configuration.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starttls" => Some(Self::StartTls),
            "tls" => Some(Self::Tls),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Sends the desk's mail.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    approvers: Vec<Mailbox>,
    by_category: BTreeMap<String, Vec<Mailbox>>,
    public_url: Arc<str>,
    /// Where the relay is and how it is reached, for the log.
    relay: Arc<str>,
    counts: Arc<Counts>,
}

/// Mails handed to the relay and mails that could not be.
#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    failed: AtomicU64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

/// A mail setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address that does not parse.
    #[error("mail.{key}: {value:?} is not a mail address (write \"name@example.org\" or \"Name <name@example.org>\")")]
    BadAddress {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A file a key names that cannot be used: the key, the file and what to do.
    #[error("mail.{key} {path}: {problem}")]
    File {
        /// The key (`ca_file`, `password_file`).
        key: &'static str,
        /// The file.
        path: String,
        /// What is wrong and the fix.
        problem: String,
    },
}

impl Mailer {
    /// A mailer for `config`; links point into `public_url`.
    ///
    /// # Errors
    /// [`MailError`] naming the key: an address that does not parse, a CA file that holds no
    /// certificate, a password file others can read or that is empty.
    pub fn new(config: &MailConfig, public_url: &str) -> Result<Self, MailError> {
        let parse = |key: &str, v: &str| {
            v.parse::<Mailbox>()
                .map_err(|_| MailError::BadAddress { key: key.to_owned(), value: v.to_owned() })
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
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if config.tls != MailTls::None {
            let parameters = tls_parameters(&config.host, config.ca_file.as_ref())?;
            builder = builder.tls(match config.tls {
                MailTls::Tls => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            });
        }
        if let Some((user, password_file)) = &config.auth {
            builder = builder.credentials(Credentials::new(user.clone(), password(password_file)?));
        }
        let relay = format!(
            "{}:{} ({})",
            config.host,
            config.port,
            match config.tls {
                MailTls::StartTls => "starttls",
                MailTls::Tls => "tls",
                MailTls::None => "none",
            }
        );
        Ok(Self {
            transport: builder.build(),
            from,
            approvers,
            by_category,
            public_url: public_url.into(),
            relay: relay.into(),
            counts: Arc::default(),
        })
    }

    /// Mails handed to the relay so far.
    pub fn sent(&self) -> u64 {
        self.counts.sent.load(Ordering::Relaxed)
    }

    /// Mails that could not be handed to the relay so far (each one logged).
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
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
        let relay = Arc::clone(&self.relay);
        let counts = Arc::clone(&self.counts);
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => {
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(recipients = to.len(), "mail sent");
                }
                Err(e) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    // `{:#}`-like: lettre's error names the TLS or SMTP failure; the hint names
                    // the keys that decide it. The password is in neither.
                    tracing::warn!(
                        error = %e,
                        source = e.source().map(ToString::to_string).unwrap_or_default(),
                        %relay,
                        "mail not sent (check [mail] smtp, tls, ca_file, username and password_file; the request itself is recorded)"
                    );
                }
            }
        });
    }
}

/// The relay's TLS settings: the system's store, or only the CA certificates in `ca_file`.
fn tls_parameters(host: &str, ca_file: Option<&PathBuf>) -> Result<TlsParameters, MailError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(ca) = ca_file {
        let file = |problem: String| MailError::File {
            key: "ca_file",
            path: ca.display().to_string(),
            problem,
        };
        let pem = std::fs::read(ca).map_err(|e| file(format!("cannot read it: {e}")))?;
        let mut n = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| file(format!("not PEM certificates: {e}")))?;
            let cert = Certificate::from_der(cert.to_vec())
                .map_err(|e| file(format!("a certificate is unusable: {e}")))?;
            builder = builder.add_root_certificate(cert);
            n += 1;
        }
        if n == 0 {
            return Err(file(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA that issued the relay's certificate".into(),
            ));
        }
        builder = builder.certificate_store(CertificateStore::None);
    }
    builder.build_rustls().map_err(|e| MailError::File {
        key: "ca_file",
        path: ca_file
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(the system's store)".into()),
        problem: format!("TLS cannot be set up: {e}"),
    })
}

/// The SMTP password from its owner-only file (one line; a final line break is not part of it).
fn password(path: &PathBuf) -> Result<String, MailError> {
    let file = |problem: String| MailError::File {
        key: "password_file",
        path: path.display().to_string(),
        problem,
    };
    if gatehouse_admin::approve::readable_by_others(path) {
        return Err(file(format!(
            "other users can read it; make it owner-only (chmod 600 {})",
            path.display()
        )));
    }
    let password = std::fs::read_to_string(path)
        .map_err(|e| file(format!("cannot read it: {e}")))?
        .trim_end_matches(['\r', '\n'])
        .to_owned();
    if password.is_empty() {
        return Err(file("is empty: write the SMTP account's password into it".into()));
    }
    Ok(password)
}

/// Text for a header: control characters (line breaks above all) become spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect()
}
