//! The JavaScript surface (wasm32 only): a thin layer over the crate's API. Every export returns
//! `Result<_, JsError>`; values cross as plain JSON-compatible objects.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::{
    catalogue, check_approval, decide, Context, Identity, Names, Policy, Request, ResourceType,
};

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("could not convert result to JavaScript: {e}")))
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

/// A compiled policy, ready to decide.
#[wasm_bindgen]
pub struct Engine {
    policy: Policy,
    warnings: Vec<crate::Warning>,
}

#[wasm_bindgen]
impl Engine {
    /// Parses a policy (JSON text); without one, the embedded default. Throws if unusable.
    #[wasm_bindgen(constructor)]
    pub fn new(policy_json: Option<String>) -> Result<Engine, JsError> {
        match policy_json {
            None => Ok(Self::embedded_default()),
            Some(json) => {
                let parsed = Policy::from_json(&json).map_err(|e| JsError::new(&e.to_string()))?;
                Ok(Self { policy: parsed.policy, warnings: parsed.warnings })
            }
        }
    }

    /// The embedded default policy.
    #[wasm_bindgen(js_name = embeddedDefault)]
    pub fn embedded_default() -> Engine {
        Self { policy: Policy::embedded_default(), warnings: Vec::new() }
    }

    /// `[{path, message}]` for every policy entry that was skipped or adjusted.
    pub fn warnings(&self) -> Result<JsValue, JsError> {
        to_js(&self.warnings)
    }

    /// The verdict for one URL. Throws on an unparsable URL or resource type.
    pub fn decide(
        &self,
        url: &str,
        resource_type: &str,
        context: JsValue,
    ) -> Result<JsValue, JsError> {
        let context: Context = from_js(context, "context")?;
        let resource_type: ResourceType =
            resource_type.parse().map_err(|e: crate::RequestError| JsError::new(&e.to_string()))?;
        let request = Request::new(url, resource_type).map_err(|e| JsError::new(&e.to_string()))?;
        to_js(&decide(&self.policy, &context, &request))
    }

    /// The dynamic rules for this policy and context.
    #[wasm_bindgen(js_name = compileRules)]
    pub fn compile_rules(
        &self,
        context: JsValue,
        block_page_url: &str,
    ) -> Result<JsValue, JsError> {
        let context: Context = from_js(context, "context")?;
        to_js(&crate::compile_rules(&self.policy, &context, block_page_url))
    }

    /// Verifies tokens (`[{token, source, file}]`) for `identity` at `nowMs`.
    #[wasm_bindgen(js_name = verifyApprovals)]
    pub fn verify_approvals(
        &self,
        tokens: JsValue,
        identity: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsError> {
        let tokens: Vec<TokenInput> = from_js(tokens, "tokens")?;
        let identity: Option<Identity> = from_js(identity, "identity")?;
        let now_ms = now_ms as i64;
        let results: Vec<TokenResult> = tokens
            .into_iter()
            .map(|t| {
                // The signature is checked once; an authentic token that is not in force keeps
                // its claims, so the block page can say "your approval for this ended".
                let (verdict, claims) =
                    match crate::signed_approval(&self.policy, &t.token, &t.source) {
                        Err(e) => (Err(e), None),
                        Ok(signed) => {
                            let checked = check_approval(
                                &self.policy,
                                signed.clone(),
                                identity.as_ref(),
                                now_ms,
                            );
                            let claims = checked.is_err().then_some(signed);
                            (checked, claims)
                        }
                    };
                match verdict {
                    Ok(approval) => TokenResult {
                        ok: true,
                        approval: Some(approval),
                        reason: None,
                        message: None,
                        claims: None,
                        source: t.source,
                        file: t.file,
                    },
                    Err(e) => TokenResult {
                        ok: false,
                        approval: None,
                        reason: Some(e.code()),
                        message: Some(e.to_string()),
                        claims,
                        source: t.source,
                        file: t.file,
                    },
                }
            })
            .collect();
        to_js(&results)
    }

    /// `{inScope, reason, explanation}` for this context.
    pub fn scope(&self, context: JsValue) -> Result<JsValue, JsError> {
        let context: Context = from_js(context, "context")?;
        to_js(&self.policy.scope().evaluate(&context))
    }

    /// What the pages need to know about the policy.
    #[wasm_bindgen(js_name = policyInfo)]
    pub fn policy_info(&self) -> Result<JsValue, JsError> {
        let p = &self.policy;
        let categories: std::collections::BTreeMap<&str, CategoryInfo> = p
            .categories()
            .iter()
            .map(|(id, c)| {
                (
                    id.as_str(),
                    CategoryInfo {
                        mode: c.mode,
                        adaptation_end_ms: c.adaptation_end_ms,
                        name: c.name.clone(),
                    },
                )
            })
            .collect();
        to_js(&PolicyInfo {
            department: p.block_page().department.clone(),
            contact: p.block_page().contact.clone(),
            message: p.block_page().message.clone(),
            requests: p.requests().clone(),
            warn_proceed_minutes: p.warn_proceed_minutes(),
            audit_full_url: p.audit_full_url(),
            probe_hosts: p.scope().probe_hosts().to_vec(),
            max_approval_days: p.max_approval_days(),
            categories,
        })
    }

    /// The session allow rule for a warn-mode "continue" on `url`, and when it ends.
    #[wasm_bindgen(js_name = proceedRule)]
    pub fn proceed_rule(&self, url: &str, rule_id: u32, now_ms: f64) -> Result<JsValue, JsError> {
        let request =
            Request::new(url, ResourceType::MainFrame).map_err(|e| JsError::new(&e.to_string()))?;
        let host = request.host().ok_or_else(|| JsError::new("not a web URL"))?;
        let expires_ms = now_ms as i64 + i64::from(self.policy.warn_proceed_minutes()) * 60_000;
        to_js(&ProceedRule { rule: crate::proceed_rule(rule_id, host), expires_ms })
    }
}

/// The static bootstrap ruleset for a block page URL.
#[wasm_bindgen(js_name = bootstrapRules)]
pub fn bootstrap_rules(block_page_url: &str) -> Result<JsValue, JsError> {
    to_js(&crate::bootstrap_rules(block_page_url))
}

/// The built-in catalogue, for the pages.
#[wasm_bindgen(js_name = catalogue)]
pub fn catalogue_js() -> Result<JsValue, JsError> {
    to_js(catalogue())
}

#[derive(Deserialize)]
struct TokenInput {
    token: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    file: Option<String>,
}

#[derive(Serialize)]
struct TokenResult {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<crate::Approval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<crate::Approval>,
    source: String,
    file: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CategoryInfo {
    mode: crate::Mode,
    adaptation_end_ms: Option<i64>,
    name: Names,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInfo<'a> {
    department: Option<Names>,
    contact: Option<String>,
    message: Option<Names>,
    requests: crate::RequestRouting,
    warn_proceed_minutes: u32,
    audit_full_url: bool,
    probe_hosts: Vec<String>,
    max_approval_days: u32,
    categories: std::collections::BTreeMap<&'a str, CategoryInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProceedRule {
    rule: crate::Rule,
    expires_ms: i64,
}
