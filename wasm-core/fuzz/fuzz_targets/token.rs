//! Fuzz target: any bytes as an approval token; verification must reject or accept, never panic.
#![no_main]

use gatehouse_core::{Engine, Identity, TokenInput};
use libfuzzer_sys::fuzz_target;

const POLICY: &str = r#"{"approvals": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}}"#;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data).into_owned();
    let Ok(engine) = Engine::new(POLICY) else { return };
    let identity = Identity { principal: Some("alice@corp.example".into()), ..Identity::default() };
    let input = TokenInput { token, source: "fuzz".into(), file: None };
    let results = engine.verify_tokens(vec![input], Some(&identity), 1_800_000_000_000);
    assert_eq!(results.len(), 1);
});
