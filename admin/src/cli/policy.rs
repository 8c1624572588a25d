//! `gatehouse classify`, `check-policy` and `rules`: the policy engine from the command line.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Args;
use gatehouse_core::{
    bootstrap_rules, Context, Engine, Parsed, Policy, PolicyError, Request, ResourceType, Warning,
};
use serde_json::{json, Value};

/// The development extension id (from the manifest key), used for the block page by default.
const DEV_EXTENSION_ID: &str = include_str!("../../../extension/EXTENSION_ID");

/// `classify` flags.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Policy file (managed-storage JSON, or a Chrome policy file with a `3rdparty` section);
    /// without it, the embedded default policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Context file: `{identity, network, nowMs}` as the host reports them.
    /// Without it: no host facts (in scope, fail closed) and the current time.
    #[arg(long)]
    context: Option<PathBuf>,
    /// Resource type of every URL.
    #[arg(long, default_value = "main_frame")]
    resource_type: String,
    /// URLs to classify; without any, one per line from standard input.
    urls: Vec<String>,
}

/// `check-policy` flags.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file to check.
    file: PathBuf,
    /// Exit non-zero on warnings too (for a deployment pipeline).
    #[arg(long)]
    strict: bool,
    /// Print the findings as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `rules` flags.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Policy file; without it, the embedded default policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Context file (see `classify`).
    #[arg(long)]
    context: Option<PathBuf>,
    /// The static bootstrap ruleset (the catalogue under the default policy) instead.
    #[arg(long, conflicts_with_all = ["policy", "context"])]
    bootstrap: bool,
    /// Extension id whose block page the redirects point at.
    #[arg(long, default_value = DEV_EXTENSION_ID.trim())]
    extension_id: String,
}

/// `policy-templates` flags. Nothing defaults: the id and update URL decide what every desktop
/// installs, and a wrong one installs nothing, silently.
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    /// The Gatehouse policy to deploy (checked first; an unusable one is refused).
    #[arg(long)]
    policy: PathBuf,
    /// Gatehouse's extension id in Chrome and Chromium (from your release key, or the Chrome Web
    /// Store listing); also Edge's unless --edge-extension-id is given.
    #[arg(long, value_name = "ID")]
    extension_id: String,
    /// Where Chrome and Chromium fetch the update manifest (the intranet's https://…/updates.xml,
    /// or the store's update URL); also Edge's unless --edge-update-url is given.
    #[arg(long, value_name = "URL")]
    update_url: String,
    /// Gatehouse's id in Edge, when it differs (an Edge Add-ons listing has its own id).
    #[arg(long, value_name = "ID")]
    edge_extension_id: Option<String>,
    /// Edge's update URL, when it differs (Edge Add-ons:
    /// https://edge.microsoft.com/extensionwebstorebase/v1/crx).
    #[arg(long, value_name = "URL")]
    edge_update_url: Option<String>,
    /// Another extension users may install (every other one is blocked); repeat for several.
    #[arg(long = "allow-extension", value_name = "ID")]
    allow_extensions: Vec<String>,
    /// Another native-messaging host the department uses (every other one is blocked); repeat.
    #[arg(long = "allow-native-host", value_name = "NAME")]
    allow_native_hosts: Vec<String>,
    /// Output folder (created if missing; files in it are overwritten).
    #[arg(long)]
    out: PathBuf,
}

pub fn templates(args: &TemplatesArgs) -> anyhow::Result<()> {
    use gatehouse_admin::templates::{generate, Distribution, TemplateInput};
    let text = std::fs::read_to_string(&args.policy)
        .with_context(|| format!("reading {}", args.policy.display()))?;
    let (_, warnings) = parse_policy_text(&text)
        .with_context(|| format!("{} cannot be used", args.policy.display()))?;
    for w in &warnings {
        eprintln!("gatehouse: warning: {}: {}: {}", args.policy.display(), w.path, w.message);
    }
    let Ok(Value::Object(policy)) = serde_json::from_str::<Value>(&text) else {
        bail!("{} must be a policy object in managed-storage form", args.policy.display());
    };
    let chrome = Distribution {
        extension_id: args.extension_id.trim().to_owned(),
        update_url: args.update_url.trim().to_owned(),
    };
    let edge = Distribution {
        extension_id: args
            .edge_extension_id
            .as_deref()
            .map_or_else(|| chrome.extension_id.clone(), |id| id.trim().to_owned()),
        update_url: args
            .edge_update_url
            .as_deref()
            .map_or_else(|| chrome.update_url.clone(), |url| url.trim().to_owned()),
    };
    let input = TemplateInput {
        chrome,
        edge,
        allowed_extensions: args.allow_extensions.iter().map(|id| id.trim().to_owned()).collect(),
        native_hosts: args.allow_native_hosts.iter().map(|h| h.trim().to_owned()).collect(),
        policy,
    };
    for file in generate(&input)? {
        let path = args.out.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &file.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

pub fn classify(args: &ClassifyArgs) -> anyhow::Result<()> {
    let engine = load_engine(args.policy.as_deref(), args.context.as_deref())?;
    let now_ms = engine.context().now_ms;
    let resource_type: ResourceType = args.resource_type.parse()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    let mut one = |url: &str, out: &mut dyn Write| -> anyhow::Result<()> {
        let line = match Request::new(url, resource_type) {
            Ok(request) => {
                let v = engine.decide(&request, now_ms);
                json!({
                    "url": url,
                    "category": v.category,
                    "service": v.service.as_ref().map(|s| &s.id),
                    "serviceName": v.service.as_ref().map(|s| &s.name.en),
                    "action": v.action,
                    "reason": v.reason,
                    "matchedRule": v.matched_rule,
                    "inScope": v.in_scope,
                    "explanation": v.explanation,
                })
            }
            Err(e) => {
                failed += 1;
                json!({"url": url, "category": null, "service": null, "action": null, "reason": null, "error": e.to_string()})
            }
        };
        writeln!(out, "{line}")?;
        Ok(())
    };
    if args.urls.is_empty() {
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading URLs from standard input")?;
            let url = line.trim();
            if !url.is_empty() {
                one(url, &mut out)?;
            }
        }
    } else {
        for url in &args.urls {
            one(url, &mut out)?;
        }
    }
    out.flush()?;
    if failed > 0 {
        bail!("{failed} URL(s) could not be parsed (see the \"error\" field of each)");
    }
    Ok(())
}

pub fn check_policy(args: &CheckArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let result = parse_policy_text(&text);
    let (errors, warnings): (Vec<Warning>, Vec<Warning>) = match &result {
        Ok((_, warnings)) => (Vec::new(), warnings.clone()),
        Err(e) => (vec![Warning { path: "$".into(), message: e.to_string() }], Vec::new()),
    };
    if args.json {
        println!("{}", json!({"file": args.file, "errors": errors, "warnings": warnings}));
    } else {
        for e in &errors {
            println!("error: {}: {}", e.path, e.message);
        }
        for w in &warnings {
            println!("warning: {}: {}", w.path, w.message);
        }
        if let Ok((policy, _)) = &result {
            let modes: Vec<String> = policy
                .categories()
                .iter()
                .map(|(id, c)| format!("{id}={:?}", c.mode).to_lowercase())
                .collect();
            println!(
                "{}: usable; {} services; categories {}; {} warning(s)",
                args.file.display(),
                policy.services().len(),
                modes.join(", "),
                warnings.len()
            );
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} cannot be used; browsers would enforce the embedded default policy",
            args.file.display()
        );
    }
    if args.strict && !warnings.is_empty() {
        bail!("{} warning(s) (--strict)", warnings.len());
    }
    Ok(())
}

pub fn rules(args: &RulesArgs) -> anyhow::Result<()> {
    let id = args.extension_id.trim();
    if id.len() != 32 || !id.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
        bail!("extension id {id:?} must be 32 letters a-p");
    }
    let block_page = format!("chrome-extension://{id}/block.html");
    let output = if args.bootstrap {
        serde_json::to_value(bootstrap_rules(&block_page))?
    } else {
        let engine = load_engine(args.policy.as_deref(), args.context.as_deref())?;
        serde_json::to_value(engine.compile_rules(engine.context().now_ms, &block_page))?
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

/// The engine for a policy file (or the embedded default) in a context file's facts.
fn load_engine(policy: Option<&Path>, context: Option<&Path>) -> anyhow::Result<Engine> {
    let (policy, warnings) = load_policy(policy)?;
    let mut engine = Engine::from_parsed(Parsed { policy, warnings });
    engine.set_context(load_context(context)?);
    Ok(engine)
}

/// Reads a policy file; warnings go to stderr so stdout stays machine-readable.
pub(crate) fn load_policy(path: Option<&Path>) -> anyhow::Result<(Policy, Vec<Warning>)> {
    let Some(path) = path else { return Ok((Policy::embedded_default(), Vec::new())) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (policy, warnings) =
        parse_policy_text(&text).with_context(|| format!("{} cannot be used", path.display()))?;
    for w in &warnings {
        eprintln!("gatehouse: warning: {}: {}: {}", path.display(), w.path, w.message);
    }
    Ok((policy, warnings))
}

/// A policy in managed-storage form, or a Chrome/Edge policy file whose `3rdparty` section
/// carries it (the form admins deploy to `/etc/chromium/policies/managed/`).
fn parse_policy_text(text: &str) -> Result<(Policy, Vec<Warning>), PolicyError> {
    let value: Value = serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
    let extensions =
        value.get("3rdparty").and_then(|t| t.get("extensions")).and_then(Value::as_object);
    let (inner, prefix) = match extensions {
        Some(map) if map.len() == 1 => {
            let (id, policy) =
                map.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap_or_default();
            (policy, Some(format!("$.3rdparty.extensions.{id}")))
        }
        _ => (value, None),
    };
    let parsed = Policy::from_value(&inner)?;
    let warnings = parsed
        .warnings
        .into_iter()
        .map(|w| match &prefix {
            Some(p) => Warning { path: w.path.replacen('$', p, 1), message: w.message },
            None => w,
        })
        .collect();
    Ok((parsed.policy, warnings))
}

fn load_context(path: Option<&Path>) -> anyhow::Result<Context> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let Some(path) = path else { return Ok(Context { now_ms, ..Context::default() }) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if value.get("nowMs").is_none() {
        if let Some(obj) = value.as_object_mut() {
            obj.insert("nowMs".into(), now_ms.into());
        }
    }
    serde_json::from_value(value)
        .with_context(|| format!("{} is not a context object", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_policy_files_are_unwrapped_and_paths_point_into_them() {
        let file = r#"{"3rdparty": {"extensions": {"gkjfgifemhclilaggdnjbnagnbpgaikk": {"categories": {"webmail": {"mode": "warm"}}}}}}"#;
        let (policy, warnings) = parse_policy_text(file).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].path,
            "$.3rdparty.extensions.gkjfgifemhclilaggdnjbnagnbpgaikk.categories.webmail.mode"
        );
        assert_eq!(policy.category("webmail").mode, gatehouse_core::Mode::Block);
    }

    #[test]
    fn plain_policies_and_unusable_ones() {
        let (_, warnings) = parse_policy_text(r#"{"allowlist": ["mail.dept.gov.hk"]}"#).unwrap();
        assert!(warnings.is_empty());
        assert!(matches!(parse_policy_text("[1]"), Err(PolicyError::NotAnObject(_))));
        assert!(matches!(parse_policy_text("{"), Err(PolicyError::Json(_))));
    }
}
