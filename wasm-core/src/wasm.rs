//! The JavaScript surface (wasm32 only): a thin layer over [`crate::Engine`]. Every export
//! returns `Result<_, JsError>`; values cross as plain JSON-compatible objects, converted once as
//! JSON text on each side (`serde_json` here, the engine's own `JSON` there), which is smaller and
//! faster in this module than building objects field by field.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::{catalogue, Identity, Request, ResourceType};

/// The one error mapper for values going out.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value)
        .map_err(|e| JsError::new(&format!("could not convert result to JavaScript: {e}")))?;
    js_sys::JSON::parse(&text)
        .map_err(|_| JsError::new("could not convert result to JavaScript: JSON.parse failed"))
}

/// The one error mapper for values coming in (`undefined` reads as `null`).
fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsError> {
    let text = if value.is_undefined() {
        None
    } else {
        js_sys::JSON::stringify(&value).ok().and_then(|s| s.as_string())
    };
    serde_json::from_str(text.as_deref().unwrap_or("null"))
        .map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

/// A compiled policy, ready to decide: [`crate::Engine`] behind JavaScript names.
#[wasm_bindgen]
pub struct Engine {
    inner: crate::Engine,
    /// The last `verifyApprovals` results, for `explain`'s notes on approvals not in force.
    tokens: Vec<crate::TokenResult>,
    /// `check`'s answers already built, frozen, by everything they say: the same verdict for
    /// another URL is the same object, not a new conversion. Emptied when the context changes.
    briefs: RefCell<Briefs>,
    /// Where `checkInput` reads its URL: JavaScript writes the UTF-8 bytes straight into this
    /// memory (`extension/js/check.js`), which saves wasm-bindgen's per-call allocation and copy
    /// loop — most of the boundary's cost on the hot path.
    input: Box<[u8]>,
}

/// The brief verdicts built so far: a code (1-based index) for each.
#[derive(Default)]
struct Briefs {
    codes: FxHashMap<BriefKey, u32>,
    /// The verdicts, code 1 first. One JavaScript array for the engine's life, emptied in place:
    /// `check.js` holds it (`briefTable`) and reads a code's verdict without crossing into wasm.
    values: js_sys::Array,
}

impl Briefs {
    fn clear(&mut self) {
        self.codes.clear();
        self.values.set_length(0);
    }
}

/// Everything a brief verdict says, by identity: its strings all borrow from the engine's policy
/// and context, which stay where they are while the briefs live (they are emptied whenever
/// either changes), so their addresses and lengths name them — a look-up hashes a few integers
/// and copies no text.
type BriefKey = (u8, u8, bool, bool, [(usize, usize); 5], i64);

fn brief_key(brief: &crate::Brief<'_>) -> BriefKey {
    let at = |s: Option<&str>| s.map_or((0, 0), |s| (s.as_ptr() as usize, s.len()));
    let (host, exact, path) = match brief.pattern_parts() {
        Some((host, exact, path)) => (Some(host), exact, path),
        None => (None, false, None),
    };
    let (approval, expires_ms) = brief.approval().unzip();
    (
        brief.action as u8,
        brief.reason as u8,
        brief.in_scope,
        exact,
        [at(brief.category()), at(brief.service_id()), at(host), at(path), at(approval)],
        expires_ms.unwrap_or(0),
    )
}
/// Distinct brief verdicts kept at most, against a page that walks through many categorised
/// hosts (when full: 2.5 MiB of frozen verdicts in JavaScript, measured, and about 2 MiB of
/// keys). A verdict names its pattern, so a policy has about one per pattern and reason;
/// browsing meets far fewer between two context changes, the benchmark's 100,000-host policy
/// 5,213 (which a cap of 4,096 rebuilt on every pass).
const MAX_BRIEFS: u32 = 16_384;
/// `checkInput`'s buffer: longer URLs (rare) take `check` with a string.
const INPUT_CAPACITY: usize = 8192;
/// `checkInput`: Gatehouse does not apply (not a web URL, or not categorised).
const NOT_APPLICABLE: u32 = 0;
/// `checkInput`: the input is not a URL the engine can parse (or not UTF-8, or no such type).
const INVALID_INPUT: u32 = u32::MAX;

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn request<'a>(url: &'a str, resource_type: &str) -> Result<Request<'a>, JsError> {
    let resource_type: ResourceType = resource_type.parse().map_err(js_error)?;
    Request::new(url, resource_type).map_err(js_error)
}

#[wasm_bindgen]
impl Engine {
    /// Parses a policy (JSON text); without one, the embedded default. Throws if unusable.
    #[wasm_bindgen(constructor)]
    pub fn new(policy_json: Option<String>) -> Result<Engine, JsError> {
        let inner = match policy_json {
            None => crate::Engine::embedded_default(),
            Some(json) => crate::Engine::new(&json).map_err(js_error)?,
        };
        Ok(Self::wrap(inner))
    }

    /// The embedded default policy.
    #[wasm_bindgen(js_name = embeddedDefault)]
    pub fn embedded_default() -> Engine {
        Self::wrap(crate::Engine::embedded_default())
    }

    /// `[{path, message}]` for every policy entry that was skipped or adjusted.
    pub fn warnings(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.warnings())
    }

    /// Sets the context (`{identity, network, approvals, proceeds}`) once per change; `decide`,
    /// `check` and `compileRules` then take only the time.
    #[wasm_bindgen(js_name = setContext)]
    pub fn set_context(&mut self, context: JsValue) -> Result<(), JsError> {
        self.replace_context(from_js(context, "context")?);
        Ok(())
    }

    /// The verdict for one URL at `nowMs` in the context set last — or, given a context object
    /// instead of a time, in that context. Throws on an unparsable URL or resource type.
    pub fn decide(
        &mut self,
        url: &str,
        resource_type: &str,
        now_or_context: JsValue,
    ) -> Result<JsValue, JsError> {
        let now_ms = self.now(now_or_context)?;
        to_js(&self.inner.decide(&request(url, resource_type)?, now_ms))
    }

    /// `decide` for the hot path (every navigation): `null` when Gatehouse does not apply (not a
    /// web URL, or not categorised), else the verdict without display names or explanation —
    /// `{action, reason, category, service: {id}, matchedRule, approval, inScope}`. Takes the
    /// time; the context is the one set last. `checkInput` is the same without the string.
    pub fn check(&self, url: &str, resource_type: &str, now_ms: f64) -> Result<JsValue, JsError> {
        let code = self.brief_code(&request(url, resource_type)?, now_ms)?;
        Ok(self.brief(code))
    }

    /// The address and size of the buffer `checkInput` reads (fixed for the engine's life).
    #[wasm_bindgen(js_name = inputBuffer)]
    pub fn input_buffer(&mut self) -> *mut u8 {
        self.input.as_mut_ptr()
    }

    #[wasm_bindgen(js_name = inputCapacity)]
    pub fn input_capacity(&self) -> usize {
        self.input.len()
    }

    /// `check` on the first `len` bytes of the input buffer, resource type by its index in
    /// `resourceTypes()`: 0 when Gatehouse does not apply, `0xffffffff` when the input is not a
    /// URL, else the code of a brief verdict: `briefTable()[code - 1]`.
    #[wasm_bindgen(js_name = checkInput)]
    pub fn check_input(&self, len: usize, resource_type: u8, now_ms: f64) -> u32 {
        let url = self.input.get(..len).and_then(|bytes| std::str::from_utf8(bytes).ok());
        let resource_type = crate::ResourceType::ALL.get(usize::from(resource_type));
        let (Some(url), Some(&resource_type)) = (url, resource_type) else {
            return INVALID_INPUT;
        };
        match Request::new(url, resource_type) {
            Ok(request) => self.brief_code(&request, now_ms).unwrap_or(INVALID_INPUT),
            Err(_) => INVALID_INPUT,
        }
    }

    /// The brief verdicts `checkInput`'s codes name, code 1 first: the same array for the
    /// engine's life, emptied in place whenever the codes start again.
    #[wasm_bindgen(js_name = briefTable)]
    pub fn brief_table(&self) -> js_sys::Array {
        self.briefs.borrow().values.clone()
    }

    /// Resource type names in the order `checkInput` numbers them.
    #[wasm_bindgen(js_name = resourceTypes)]
    pub fn resource_types() -> Vec<String> {
        crate::ResourceType::ALL.iter().map(|t| t.name().to_owned()).collect()
    }

    /// The dynamic rules at `nowMs` in the context set last (or in a context object given).
    #[wasm_bindgen(js_name = compileRules)]
    pub fn compile_rules(
        &mut self,
        now_or_context: JsValue,
        block_page_url: &str,
    ) -> Result<JsValue, JsError> {
        let now_ms = self.now(now_or_context)?;
        to_js(&self.inner.compile_rules(now_ms, block_page_url))
    }

    /// Verifies tokens (`[{token, source, file}]`) for `identity` at `nowMs`.
    #[wasm_bindgen(js_name = verifyApprovals)]
    pub fn verify_approvals(
        &mut self,
        tokens: JsValue,
        identity: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsError> {
        let tokens: Vec<crate::TokenInput> = from_js(tokens, "tokens")?;
        let identity: Option<Identity> = from_js(identity, "identity")?;
        self.tokens = self.inner.verify_tokens(tokens, identity.as_ref(), now_ms as i64);
        to_js(&self.tokens)
    }

    /// Adds the ids of the approval desk's signed revocation list (JWS text) to the policy's
    /// revoked approvals; returns how many were new. Throws, changing nothing, unless it verifies
    /// with an approver key the policy trusts. Set the context again afterwards.
    #[wasm_bindgen(js_name = applyRevocationList)]
    pub fn apply_revocation_list(&mut self, jws: &str) -> Result<u32, JsError> {
        let added = self.inner.apply_revocation_list(jws).map_err(js_error)?;
        self.briefs.get_mut().clear();
        Ok(u32::try_from(added).unwrap_or(u32::MAX))
    }

    /// What the block page shows for `url` at `nowMs` (verdict, approval notes, defaults).
    pub fn explain(&self, url: &str, now_ms: f64) -> Result<JsValue, JsError> {
        let request = request(url, "main_frame")?;
        to_js(&self.inner.explain(&request, now_ms as i64, &self.tokens))
    }

    /// The "continue" on `url` at `nowMs`: `{service, untilMs}`. Throws unless it warns.
    pub fn proceed(&self, url: &str, now_ms: f64) -> Result<JsValue, JsError> {
        let request = request(url, "main_frame")?;
        to_js(&self.inner.proceed(&request, now_ms as i64).map_err(js_error)?)
    }

    /// `{inScope, reason, explanation}` for the context set last (or a context object given).
    pub fn scope(&mut self, context: JsValue) -> Result<JsValue, JsError> {
        if !context.is_undefined() && !context.is_null() {
            self.replace_context(from_js(context, "context")?);
        }
        to_js(&self.inner.scope())
    }

    /// What the pages need to know about the policy.
    #[wasm_bindgen(js_name = policyInfo)]
    pub fn policy_info(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.info())
    }

    /// The reason codes a verdict can carry, in order (the pages mirror them).
    #[wasm_bindgen(js_name = reasonCodes)]
    pub fn reason_codes() -> Result<JsValue, JsError> {
        to_js(&crate::Reason::ALL.map(crate::Reason::code))
    }

    fn replace_context(&mut self, context: crate::Context) {
        self.inner.set_context(context);
        self.briefs.get_mut().clear();
    }

    /// A time in ms, or a context object (the older calling convention), which is then set.
    fn now(&mut self, now_or_context: JsValue) -> Result<i64, JsError> {
        match now_or_context.as_f64() {
            Some(now_ms) => Ok(now_ms as i64),
            None => {
                let context: crate::Context = from_js(now_or_context, "context")?;
                let now_ms = context.now_ms;
                self.replace_context(context);
                Ok(now_ms)
            }
        }
    }
}

impl Engine {
    /// The brief verdict for a code (`null` for 0 or a code not issued since the context was
    /// last set).
    fn brief(&self, code: u32) -> JsValue {
        let values = &self.briefs.borrow().values;
        match code.checked_sub(1) {
            Some(index) if index < values.length() => values.get(index),
            _ => JsValue::NULL,
        }
    }

    fn wrap(inner: crate::Engine) -> Self {
        Self {
            inner,
            tokens: Vec::new(),
            briefs: RefCell::default(),
            input: vec![0; INPUT_CAPACITY].into_boxed_slice(),
        }
    }

    /// The code of `request`'s brief verdict, built (and frozen) the first time it is seen.
    fn brief_code(&self, request: &Request, now_ms: f64) -> Result<u32, JsError> {
        let brief = self.inner.brief(request, now_ms as i64);
        if brief.category().is_none() && brief.action == crate::Action::Allow {
            return Ok(NOT_APPLICABLE);
        }
        let key = brief_key(&brief);
        if let Some(&code) = self.briefs.borrow().codes.get(&key) {
            return Ok(code);
        }
        let matched_rule = brief.matched_rule().map(|p| p.to_string());
        let value = to_js(&Brief {
            action: brief.action,
            reason: brief.reason,
            category: brief.category(),
            service: brief.service_id().map(|id| BriefService { id }),
            matched_rule: matched_rule.as_deref(),
            approval: brief.approval().map(|(id, expires_ms)| BriefApproval { id, expires_ms }),
            in_scope: brief.in_scope,
        })?;
        js_sys::Object::freeze(value.unchecked_ref::<js_sys::Object>());
        let mut briefs = self.briefs.borrow_mut();
        if briefs.values.length() >= MAX_BRIEFS {
            briefs.clear();
        }
        let code = briefs.values.push(&value);
        briefs.codes.insert(key, code);
        Ok(code)
    }
}

/// Loads the broad tier from the extension's `broad.txt` (its text); returns the number of hosts.
/// Text whose SHA-512 is not the one compiled into this engine is refused with an error, and the
/// engine keeps deciding on the curated catalogue alone (`policyInfo().broadTier.loaded`).
#[wasm_bindgen(js_name = loadBroadTier)]
pub fn load_broad_tier(text: &str) -> Result<u32, JsError> {
    let n = crate::load_broad_tier(text).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
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

/// The verdict as `check` returns it: what the worker reads on every navigation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Brief<'a> {
    action: crate::Action,
    reason: crate::Reason,
    category: Option<&'a str>,
    service: Option<BriefService<'a>>,
    matched_rule: Option<&'a str>,
    approval: Option<BriefApproval<'a>>,
    in_scope: bool,
}

#[derive(Serialize)]
struct BriefService<'a> {
    id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BriefApproval<'a> {
    id: &'a str,
    expires_ms: i64,
}
