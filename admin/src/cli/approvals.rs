//! `gatehouse keygen`, `approve`, `inspect` and `revoke`: approver keys and approval tokens (guide: `admin/APPROVALS.md`).
//!
//! The logic lives in [`gatehouse_admin::approve`]; here are the flags, the files and the
//! printing. Tokens and machine-readable JSON go to stdout; notes, warnings and summaries to
//! stderr, so `gatehouse approve … > token.jws` captures just the token.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::{ArgGroup, Args};
use gatehouse_admin::approve::{
    self, ApproveError, ApproverKey, Draft, InspectFor, Inspection, Known, RequestFlags,
    RequestRecord, Rules, Validity, DEFAULT_MAX_DAYS, MAX_REQUEST_BYTES,
};
use gatehouse_core::{Identity, Policy};
use gatehouse_host::rfc3339_from_millis;
use serde_json::Value;

use crate::policy::load_policy;

/// Key files and token files larger than this are not ours.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;
/// A request older than this gets a note.
const OLD_REQUEST_DAYS: i64 = 30;

/// `keygen` flags.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Key id, named in every token (`kid`) and in the policy: 1-64 of A-Z a-z 0-9 . _ -
    /// (e.g. `hr-2025`).
    #[arg(long)]
    kid: String,
    /// Where to write the private key (created owner-only; an existing file is never
    /// overwritten). Default: `<kid>.private.jwk` in the current folder.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `approve` flags. With `--request`, the other flags override what the request asks for.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("who").required(true).multiple(true).args(["request", "user"])))]
pub struct ApproveArgs {
    /// The approver's private key file (written by `gatehouse keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// A request file saved from the block page (or the JSON it posted).
    #[arg(long, value_name = "FILE")]
    request: Option<PathBuf>,
    /// The user principal (UPN or DOMAIN\user, as the block page shows it).
    #[arg(long, value_name = "PRINCIPAL")]
    user: Option<String>,
    /// A service id to approve; repeat for several. Replaces what a request asked for.
    #[arg(long = "service", value_name = "ID")]
    services: Vec<String>,
    /// A category id to approve (every service in it); repeat for several. Replaces what a
    /// request asked for.
    #[arg(long = "category", value_name = "ID")]
    categories: Vec<String>,
    /// Bind the approval to this machine (a request binds it to the requesting machine).
    #[arg(long, value_name = "NAME", conflicts_with = "any_machine")]
    machine: Option<String>,
    /// Do not bind the approval to a machine, even when the request names one. Needed for a
    /// request that names no machine (or give --machine).
    #[arg(long)]
    any_machine: bool,
    /// Approve every service in the request's category rather than the one service asked for.
    /// Needed for a request that names no service (or give --service).
    #[arg(long, requires = "request", conflicts_with_all = ["services", "categories"])]
    whole_category: bool,
    /// Valid for N days from now (a request supplies the days it asked for).
    #[arg(long, value_name = "N", conflicts_with = "until")]
    days: Option<u32>,
    /// Valid until DATE (through the end of that day, UTC) or an RFC 3339 time with offset.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// The business purpose (a request supplies its justification).
    #[arg(long, value_name = "TEXT")]
    purpose: Option<String>,
    /// The approver's name, shown to the user with the approval.
    #[arg(long, value_name = "NAME")]
    approver: Option<String>,
    /// The longest approval to issue, in days. Default: the policy's approvals.maxDays with
    /// --policy, else 183.
    #[arg(long, value_name = "N")]
    max_days: Option<u32>,
    /// The policy the token is for: its own services and categories become known, its length
    /// cap applies, and the new token is checked against it.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Issue for service or category ids that neither the catalogue nor --policy knows.
    #[arg(long)]
    allow_unknown: bool,
    /// Write the token to FILE (owner-only, never overwritten; name it `*.jws`) instead of
    /// printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token, a file holding it, or `-` to read it from standard input.
    #[arg(value_name = "TOKEN|FILE")]
    token: String,
    /// The policy to verify against; without it, the embedded default (which trusts no key).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Check for this user principal; default: the token's own `sub`.
    #[arg(long, value_name = "PRINCIPAL")]
    user: Option<String>,
    /// Check for this machine; default: the token's own `machine`.
    #[arg(long, value_name = "NAME")]
    machine: Option<String>,
    /// Check at this time (RFC 3339, or a date for its midnight UTC); default: now.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Also check that the approval covers this URL's service.
    #[arg(long)]
    url: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `revoke` flags.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Token ids (`jti`, shown by `gatehouse inspect` and `gatehouse approve`) to revoke.
    #[arg(required = true, value_name = "JTI")]
    jtis: Vec<String>,
    /// A policy whose existing approvals.revoked list the output extends.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

pub fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    approve::check_kid(&args.kid)?;
    let out =
        args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}.private.jwk", args.kid)));
    let key = ApproverKey::generate(&args.kid)?;
    let private = serde_json::to_string_pretty(&key.private_jwk())?;
    approve::write_new_private(&out, format!("{private}\n").as_bytes())?;
    let public = key.public_jwk();
    println!("{public}");
    eprintln!(
        "gatehouse: wrote the private key to {} (owner-only). Keep it secret and backed up: \
         anyone holding it can approve.",
        out.display()
    );
    eprintln!(
        "gatehouse: the line above is the public key; add it to the policy's approvals.keys, \
         for example:\n{}",
        serde_json::to_string_pretty(&approve::policy_fragment(&public))?
    );
    Ok(())
}

pub fn approve(args: &ApproveArgs) -> anyhow::Result<()> {
    let policy = match &args.policy {
        Some(path) => Some(load_policy(Some(path))?.0),
        None => None,
    };
    let max_days = match (args.max_days, &policy) {
        (Some(asked), Some(p)) if asked > p.max_approval_days() => {
            return Err(ApproveError::MaxAbovePolicy { asked, policy: p.max_approval_days() }.into())
        }
        (Some(asked), _) => asked,
        (None, Some(p)) => p.max_approval_days(),
        (None, None) => DEFAULT_MAX_DAYS,
    };
    let key_text = read_capped(&args.key, "the key file")?;
    let key = ApproverKey::from_jwk(&key_text)
        .with_context(|| format!("reading {}", args.key.display()))?;
    if approve::readable_by_others(&args.key) {
        eprintln!(
            "gatehouse: warning: {} can be read by other users; restrict it (chmod 600)",
            args.key.display()
        );
    }

    let now = approve::now_s();
    let (mut draft, mut notes) = match &args.request {
        Some(path) => {
            let text = read_capped(path, "the request file")?;
            if text.len() > MAX_REQUEST_BYTES {
                bail!("{} is not a request file: over {MAX_REQUEST_BYTES} bytes", path.display());
            }
            let record = RequestRecord::parse(&text)
                .with_context(|| format!("reading {}", path.display()))?;
            let (mut draft, mut notes) = Draft::from_request(&record);
            let flags = RequestFlags {
                scope_given: !args.services.is_empty() || !args.categories.is_empty(),
                whole_category: args.whole_category,
                machine_given: args.machine.is_some(),
                any_machine: args.any_machine,
            };
            approve::check_request_scope(&record, flags, &mut draft)
                .with_context(|| format!("reading {}", path.display()))?;
            eprintln!(
                "gatehouse: request {} from {} on {} for {} ({}), {} day(s){}",
                record.request_id,
                record.principal.as_deref().or(record.user.as_deref()).unwrap_or("?"),
                record.machine.as_deref().unwrap_or("?"),
                record.service.as_deref().or(record.category.as_deref()).unwrap_or("?"),
                record.origin.as_deref().unwrap_or("no origin"),
                record.days.map_or_else(|| "?".to_owned(), |d| d.to_string()),
                record
                    .created_ms
                    .map(|ms| format!(", made {}", rfc3339_from_millis(ms)))
                    .unwrap_or_default()
            );
            if let Some(created) = record.created_ms {
                let age = (now * 1000 - created) / 86_400_000;
                if age > OLD_REQUEST_DAYS {
                    notes.push(format!("the request is {age} days old; check it still stands"));
                }
            }
            (draft, notes)
        }
        None => (Draft::default(), Vec::new()),
    };
    apply_flags(&mut draft, args)?;

    let known = policy.as_ref().map_or_else(Known::catalogue, Known::from_policy);
    let rules = Rules { known, allow_unknown: args.allow_unknown, max_days };
    let (claims, more) = approve::claims(&draft, &rules, key.kid(), approve::new_jti()?, now)?;
    notes.extend(more);
    let token = key.sign(&claims)?;
    for note in &notes {
        eprintln!("gatehouse: note: {note}");
    }
    for warning in approve::wide_approval_warnings(&claims) {
        eprintln!("gatehouse: {warning}");
    }
    if let Some(policy) = &policy {
        self_check(policy, &token, &claims, now);
    }

    match &args.out {
        Some(out) => {
            approve::write_new_private(out, format!("{token}\n").as_bytes())?;
            if !out.extension().is_some_and(|e| e == "jws" || e == "jwt") {
                eprintln!(
                    "gatehouse: note: approval folders are read for *.jws and *.jwt files only; \
                     rename {} before dropping it into one",
                    out.display()
                );
            }
            eprintln!("gatehouse: wrote the token to {}", out.display());
        }
        None => println!("{token}"),
    }
    let mut what = claims.services.clone();
    what.extend(claims.categories.iter().map(|c| format!("every {c} service")));
    eprintln!(
        "gatehouse: approved {} for {}{} until {} ({} days); token id (jti) {} — revoke with \
         `gatehouse revoke {}`",
        what.join(", "),
        claims.sub,
        claims.machine.as_deref().map(|m| format!(" on {m}")).unwrap_or_default(),
        rfc3339_from_millis(claims.exp.saturating_mul(1000)),
        (claims.exp - claims.nbf.or(claims.iat).unwrap_or(claims.exp) + 86_399) / 86_400,
        claims.jti,
        claims.jti
    );
    Ok(())
}

/// Flags on top of what a request asked for.
fn apply_flags(draft: &mut Draft, args: &ApproveArgs) -> anyhow::Result<()> {
    if let Some(user) = &args.user {
        if draft.subject.as_ref().is_some_and(|s| s != user) {
            eprintln!(
                "gatehouse: note: issuing to {user:?} (--user) instead of the request's {:?}",
                draft.subject.as_deref().unwrap_or_default()
            );
        }
        draft.subject = Some(user.clone());
    }
    if !args.services.is_empty() || !args.categories.is_empty() {
        draft.services.clone_from(&args.services);
        draft.categories.clone_from(&args.categories);
    }
    if args.any_machine {
        draft.machine = None;
    } else if let Some(machine) = &args.machine {
        draft.machine = Some(machine.clone());
    }
    if let Some(days) = args.days {
        draft.validity = Some(Validity::Days(days));
    } else if let Some(until) = &args.until {
        draft.validity = Some(Validity::Until(approve::parse_until(until)?));
    }
    if let Some(purpose) = &args.purpose {
        draft.purpose = Some(purpose.clone());
    }
    if let Some(approver) = &args.approver {
        draft.approver = Some(approver.clone());
    }
    Ok(())
}

/// Checks a new token against the policy it is for with the browser's own verifier.
fn self_check(policy: &Policy, token: &str, claims: &gatehouse_core::TokenClaims, now_s: i64) {
    let identity = Identity {
        principal: Some(claims.sub.clone()),
        machine: claims.machine.clone().unwrap_or_default(),
        ..Identity::default()
    };
    if let Err(rejection) =
        policy.verify_approval(token, Some(&identity), now_s.saturating_mul(1000), "approve")
    {
        eprintln!(
            "gatehouse: warning: the policy given would reject this token [{}]: {rejection}{}",
            rejection.code(),
            approve::hint(rejection.code()).map(|h| format!(" — {h}")).unwrap_or_default()
        );
    }
}

pub fn inspect(args: &InspectArgs) -> anyhow::Result<()> {
    let token = read_token(&args.token)?;
    let (policy, policy_name) = match &args.policy {
        Some(path) => (load_policy(Some(path))?.0, path.display().to_string()),
        None => (Policy::embedded_default(), "the embedded default policy".to_owned()),
    };
    let now_ms = match &args.now {
        Some(text) => approve::parse_instant(text)?.saturating_mul(1000),
        None => approve::now_s().saturating_mul(1000),
    };
    let target = InspectFor {
        user: args.user.as_deref(),
        machine: args.machine.as_deref(),
        now_ms,
        url: args.url.as_deref(),
    };
    let inspection = approve::inspect(&policy, &token, &target)?;
    if args.json {
        let mut value = serde_json::to_value(&inspection)?;
        value["policy"] = Value::String(policy_name);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&inspection, &policy_name, args.policy.is_none()));
    }
    if inspection.valid {
        Ok(())
    } else {
        Err(anyhow!("token rejected ({}): {}", inspection.code, inspection.message))
    }
}

/// The text report of `inspect`.
fn render(i: &Inspection, policy_name: &str, default_policy: bool) -> String {
    let mut out = String::from("Token contents (decoded, NOT verified: what it claims):\n");
    let header = |k: &str| i.decoded.header.as_ref().and_then(|h| h.get(k));
    let claim = |k: &str| i.decoded.claims.as_ref().and_then(|c| c.get(k));
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "—".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let list: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if list.is_empty() {
                "—".to_owned()
            } else {
                list.join(", ")
            }
        }
        Some(other) => other.to_string(),
    };
    let time = |v: Option<&Value>| match v.and_then(Value::as_i64) {
        Some(s) => format!("{} ({s})", rfc3339_from_millis(s.saturating_mul(1000))),
        None => text(v),
    };
    let machine = match claim("machine") {
        None | Some(Value::Null) => "any machine".to_owned(),
        v => text(v),
    };
    let rows = [
        ("algorithm", text(header("alg"))),
        ("key id", text(header("kid"))),
        ("token id", text(claim("jti"))),
        ("user", text(claim("sub"))),
        ("machine", machine),
        ("services", text(claim("services"))),
        ("categories", text(claim("categories"))),
        ("purpose", text(claim("purpose"))),
        ("request", text(claim("req"))),
        ("approver", text(claim("approver"))),
        ("issued", time(claim("iat"))),
        ("valid from", time(claim("nbf"))),
        ("expires", time(claim("exp"))),
    ];
    for (label, value) in rows {
        out.push_str(&format!("  {label:<11} {value}\n"));
    }
    for problem in &i.decoded.problems {
        out.push_str(&format!("  problem     {problem}\n"));
    }
    let c = &i.checked_for;
    let whose = |given: bool| if given { " (from the token)" } else { "" };
    out.push_str(&format!(
        "Checked for {}{} on {}{} at {}, against {policy_name}\n",
        c.user.as_deref().unwrap_or("an unknown user"),
        whose(c.user_from_token),
        c.machine.as_deref().unwrap_or("any machine"),
        whose(c.machine_from_token),
        c.now
    ));
    if let Some(url) = &i.url {
        let what = match (&url.service, &url.category, url.covered) {
            (Some(s), Some(cat), Some(true)) => format!("service {s} ({cat}): the token covers it"),
            (Some(s), Some(cat), _) => format!("service {s} ({cat}): the token does NOT cover it"),
            _ => "not a service Gatehouse controls; no approval is needed".to_owned(),
        };
        out.push_str(&format!("URL {}: {what}\n", url.url));
    }
    if i.valid {
        out.push_str(&format!("Verdict: VALID: {}\n", i.message));
    } else {
        out.push_str(&format!("Verdict: REJECTED [{}] {}\n", i.code, i.message));
        if let Some(hint) = i.hint {
            out.push_str(&format!("  fix: {hint}\n"));
        }
        if default_policy && i.code == "unknown_key" {
            out.push_str(
                "  (no --policy was given: the embedded default policy trusts no approver key)\n",
            );
        }
    }
    out
}

pub fn revoke(args: &RevokeArgs) -> anyhow::Result<()> {
    let existing = match &args.policy {
        Some(path) => {
            let text = read_capped(path, "the policy")?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            approve::revoked_in_policy(&value)
                .with_context(|| format!("reading {}", path.display()))?
        }
        None => Vec::new(),
    };
    let fragment = approve::revocation_fragment(&existing, &args.jtis)?;
    println!("{}", serde_json::to_string_pretty(&fragment)?);
    let total = fragment["approvals"]["revoked"].as_array().map_or(0, Vec::len);
    eprintln!(
        "gatehouse: {} id(s) revoked ({} already listed); put this list in the policy's \
         approvals.revoked, keeping approvals.keys as it is. Browsers close access as soon as \
         the policy reaches them.",
        total,
        existing.len()
    );
    Ok(())
}

/// A token given on the command line, in a file, or on standard input (`-`).
fn read_token(arg: &str) -> anyhow::Result<String> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_string(&mut text)
            .context("reading the token from standard input")?;
        if text.len() as u64 > MAX_INPUT_BYTES {
            bail!("standard input is over {MAX_INPUT_BYTES} bytes: that is no token");
        }
        return Ok(text.trim().to_owned());
    }
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(read_capped(path, "the token file")?.trim().to_owned());
    }
    if arg.contains('.') && !arg.contains(['/', '\\']) {
        return Ok(arg.trim().to_owned());
    }
    bail!("{arg:?} is neither a file nor a token (header.payload.signature)")
}

/// Reads a small UTF-8 file, refusing anything over [`MAX_INPUT_BYTES`].
fn read_capped(path: &Path, what: &str) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        bail!("{what} {} is over {MAX_INPUT_BYTES} bytes", path.display());
    }
    String::from_utf8(bytes).map_err(|_| anyhow!("{what} {} is not UTF-8 text", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_admin::approve::{CheckedFor, Decoded, UrlCheck};
    use serde_json::json;

    fn inspection(valid: bool, code: &'static str) -> Inspection {
        Inspection {
            decoded: Decoded {
                header: Some(json!({"alg": "EdDSA", "kid": "dept-1"})),
                claims: Some(
                    json!({"sub": "alice@corp.example", "jti": "j1", "exp": 1_800_000_000,
                                    "services": ["gmail"], "categories": [], "purpose": "liaison",
                                    "iat": "yesterday"}),
                ),
                problems: vec!["a problem".into()],
            },
            checked_for: CheckedFor {
                user: Some("alice@corp.example".into()),
                user_from_token: true,
                machine: None,
                machine_from_token: false,
                now: "2027-01-15T00:00:00.000Z".into(),
            },
            valid,
            code,
            message: "the message".into(),
            hint: approve::hint(code),
            approval: None,
            url: Some(UrlCheck {
                url: "https://mail.google.com/".into(),
                service: Some("gmail".into()),
                category: Some("webmail".into()),
                covered: Some(valid),
            }),
        }
    }

    #[test]
    fn report_shows_claims_checks_and_verdict() {
        let text = render(&inspection(true, "valid"), "p.json", false);
        for needle in [
            "NOT verified",
            "  key id      dept-1",
            "  user        alice@corp.example",
            "  machine     any machine",
            "  services    gmail",
            "  categories  —",
            "  expires     2027-01-15T08:00:00.000Z (1800000000)",
            "  issued      yesterday",
            "  problem     a problem",
            "Checked for alice@corp.example (from the token) on any machine at 2027-01-15",
            "against p.json",
            "service gmail (webmail): the token covers it",
            "Verdict: VALID: the message",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        let text = render(&inspection(false, "unknown_key"), "the embedded default policy", true);
        assert!(text.contains("Verdict: REJECTED [unknown_key] the message"), "{text}");
        assert!(text.contains("  fix: put the approver's public JWK"), "{text}");
        assert!(text.contains("no --policy was given"), "{text}");
        assert!(text.contains("does NOT cover it"), "{text}");
    }

    #[test]
    fn tokens_come_from_arguments_or_files() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("t.jws");
        std::fs::write(&file, "  aaa.bbb.ccc\n").unwrap();
        assert_eq!(read_token(file.to_str().unwrap()).unwrap(), "aaa.bbb.ccc");
        assert_eq!(read_token("aaa.bbb.ccc").unwrap(), "aaa.bbb.ccc");
        let e = read_token("/no/such/file").unwrap_err().to_string();
        assert!(e.contains("neither a file nor a token"), "{e}");
        assert!(read_token("justtext").is_err());
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(read_token(file.to_str().unwrap()).unwrap_err().to_string().contains("UTF-8"));
        let big = tmp.path().join("big");
        std::fs::write(&big, vec![b'a'; MAX_INPUT_BYTES as usize + 1]).unwrap();
        assert!(read_capped(&big, "x").unwrap_err().to_string().contains("over"));
    }
}
