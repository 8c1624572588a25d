//! The request/reply envelope of `PROTOCOL.md`: error codes, request decoding, reply encoding.
//!
//! Decoding is strict about what the host needs (`v`, `id`, `type`, and each type's parameters,
//! with an error naming the field) and lenient about everything else: unknown extra fields are
//! ignored so that a newer extension can talk to an older host.

use serde_json::{json, Map, Value};

/// The host's registered name (`chrome.runtime.connectNative("org.gatehouse.host")`; the
/// extension's `HOST_NAME` in `extension/js/host-protocol.js`, the manifests `install-host` writes).
pub const HOST_NAME: &str = "org.gatehouse.host";

/// The protocol version this host speaks (`v` in every request and reply).
pub const PROTOCOL_VERSION: u64 = 1;

/// Most events one `audit` request may carry.
pub const MAX_AUDIT_EVENTS: usize = 500;

/// Most host names one `network` request may ask about.
pub const MAX_PROBE_HOSTS: usize = 16;

/// The numeric error codes of the protocol. Append-only: a code, once shipped, keeps its number
/// and name forever (the extension mirrors this table in `extension/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not JSON, or not a JSON object.
    InvalidJson = 1,
    /// The frame is not UTF-8.
    InvalidUtf8 = 2,
    /// The frame's length is over the host's inbound cap; its body was skipped.
    FrameTooLarge = 3,
    /// `type` names no request this host knows.
    UnknownType = 4,
    /// A field is missing or has the wrong type or value; the message names it.
    InvalidField = 5,
    /// `v` is not a protocol version this host speaks.
    UnsupportedVersion = 6,
    /// Reading or writing a file failed.
    IoError = 7,
    /// A token is not a JWS compact string.
    TokenMalformed = 8,
    /// A token is over the size cap.
    TokenTooLarge = 9,
    /// This platform cannot provide the fact asked for.
    Unavailable = 10,
    /// A bug in the host.
    Internal = 11,
    /// The reply would be over the 1 MiB limit towards the browser.
    ReplyTooLarge = 12,
    /// The request did not finish in time (a file or folder it needs did not answer).
    Timeout = 13,
}

impl ErrorCode {
    /// Every code, in numeric order (the table in `PROTOCOL.md`).
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidUtf8,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnknownType,
        ErrorCode::InvalidField,
        ErrorCode::UnsupportedVersion,
        ErrorCode::IoError,
        ErrorCode::TokenMalformed,
        ErrorCode::TokenTooLarge,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::ReplyTooLarge,
        ErrorCode::Timeout,
    ];

    /// The number on the wire.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The snake_case name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::IoError => "io_error",
            ErrorCode::TokenMalformed => "token_malformed",
            ErrorCode::TokenTooLarge => "token_too_large",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::ReplyTooLarge => "reply_too_large",
            ErrorCode::Timeout => "timeout",
        }
    }
}

/// An error reply: a code and a specific message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    /// The protocol code.
    pub code: ErrorCode,
    /// What exactly went wrong, for people (and logs); not for matching.
    pub message: String,
}

impl ReplyError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ReplyError { code, message: message.into() }
    }

    /// `invalid_field` for a missing field.
    pub fn missing(field: &str) -> Self {
        Self::new(ErrorCode::InvalidField, format!("missing field \"{field}\""))
    }

    /// `invalid_field` for a field of the wrong type.
    pub fn wrong_type(field: &str, expected: &str, got: &Value) -> Self {
        Self::new(
            ErrorCode::InvalidField,
            format!("field \"{field}\" must be {expected}, got {}", json_type(got)),
        )
    }
}

/// The request types, as `type` names them on the wire.
pub const REQUEST_TYPES: [&str; 6] =
    ["hello", "identity", "network", "approvals", "import_approval", "audit"];

/// A decoded request: the id to echo and what is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The caller's id (a string or a number), echoed in the reply.
    pub id: Value,
    /// The request and its parameters.
    pub kind: RequestKind,
}

/// What a request asks, with its validated parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RequestKind {
    /// Host and protocol versions, capabilities, platform.
    Hello,
    /// Who is signed in on which machine.
    Identity,
    /// Network facts, resolving `probe_hosts` on the way.
    Network {
        /// Host names to resolve (`probeHosts`).
        probe_hosts: Vec<String>,
    },
    /// The approval tokens in the machine and user folders.
    Approvals,
    /// Store one pasted token in the user folder.
    ImportApproval {
        /// The token text as sent (shape checked by the approvals module).
        token: String,
    },
    /// Write audit events.
    Audit {
        /// The events, each a JSON object with a string `kind`.
        events: Vec<Map<String, Value>>,
    },
}

/// A request that could not be decoded: the id to echo (`null` when there is none) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The request's id if it had a usable one, else `null`.
    pub id: Value,
    /// The error to reply with.
    pub error: ReplyError,
}

/// Decodes one frame's body into a request.
///
/// # Errors
/// A [`DecodeError`] carrying the reply to send: `invalid_utf8`, `invalid_json`,
/// `invalid_field` (naming the field), `unsupported_version` or `unknown_type`.
pub fn decode_request(body: &[u8]) -> Result<Request, DecodeError> {
    let fail = |id: &Value, error: ReplyError| DecodeError { id: id.clone(), error };
    let text = std::str::from_utf8(body).map_err(|e| {
        fail(
            &Value::Null,
            ReplyError::new(
                ErrorCode::InvalidUtf8,
                format!("message is not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            ),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        fail(
            &Value::Null,
            ReplyError::new(ErrorCode::InvalidJson, format!("message is not JSON: {e}")),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(fail(
            &Value::Null,
            ReplyError::new(
                ErrorCode::InvalidJson,
                format!("message must be a JSON object, got {}", json_type(&value)),
            ),
        ));
    };

    // The id first, so every later error can echo it.
    let id = match obj.get("id") {
        None => return Err(fail(&Value::Null, ReplyError::missing("id"))),
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        Some(other) => {
            return Err(fail(
                &Value::Null,
                ReplyError::wrong_type("id", "a string or a number", other),
            ))
        }
    };
    match obj.get("v") {
        None => return Err(fail(&id, ReplyError::missing("v"))),
        Some(Value::Number(n)) if n.as_u64() == Some(PROTOCOL_VERSION) => {}
        Some(Value::Number(n)) => {
            let message = format!(
                "protocol version {n} is not supported; this host speaks {PROTOCOL_VERSION}"
            );
            return Err(fail(&id, ReplyError::new(ErrorCode::UnsupportedVersion, message)));
        }
        Some(other) => return Err(fail(&id, ReplyError::wrong_type("v", "a number", other))),
    }
    let kind = match obj.get("type") {
        None => return Err(fail(&id, ReplyError::missing("type"))),
        Some(Value::String(t)) => t.as_str(),
        Some(other) => return Err(fail(&id, ReplyError::wrong_type("type", "a string", other))),
    };
    let kind = match kind {
        "hello" => RequestKind::Hello,
        "identity" => RequestKind::Identity,
        "approvals" => RequestKind::Approvals,
        "network" => RequestKind::Network {
            probe_hosts: decode_probe_hosts(&obj).map_err(|e| fail(&id, e))?,
        },
        "import_approval" => RequestKind::ImportApproval {
            token: match obj.get("token") {
                None => return Err(fail(&id, ReplyError::missing("token"))),
                Some(Value::String(t)) => t.clone(),
                Some(other) => {
                    return Err(fail(&id, ReplyError::wrong_type("token", "a string", other)))
                }
            },
        },
        "audit" => RequestKind::Audit { events: decode_events(&obj).map_err(|e| fail(&id, e))? },
        other => {
            let mut shown: String = other.chars().take(64).collect();
            if shown.len() < other.len() {
                shown.push('…');
            }
            return Err(fail(
                &id,
                ReplyError::new(
                    ErrorCode::UnknownType,
                    format!(
                        "unknown request type \"{shown}\"; known: {}",
                        REQUEST_TYPES.join(", ")
                    ),
                ),
            ));
        }
    };
    Ok(Request { id, kind })
}

fn decode_probe_hosts(obj: &Map<String, Value>) -> Result<Vec<String>, ReplyError> {
    let list = match obj.get("probeHosts") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(ReplyError::wrong_type("probeHosts", "an array of strings", other))
        }
    };
    if list.len() > MAX_PROBE_HOSTS {
        return Err(ReplyError::new(
            ErrorCode::InvalidField,
            format!(
                "field \"probeHosts\" has {} names; at most {MAX_PROBE_HOSTS} are allowed",
                list.len()
            ),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("probeHosts[{i}]");
            match v {
                Value::String(host) if is_host_name(host) => Ok(host.clone()),
                Value::String(_) => Err(ReplyError::new(
                    ErrorCode::InvalidField,
                    format!("field \"{field}\" is not a DNS host name"),
                )),
                other => Err(ReplyError::wrong_type(&field, "a string", other)),
            }
        })
        .collect()
}

/// A DNS host name (or IPv4 literal): 1–253 characters, dot-separated labels of 1–63 letters,
/// digits, `-` or `_`, not starting with `-`; one trailing dot allowed.
pub fn is_host_name(host: &str) -> bool {
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn decode_events(obj: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, ReplyError> {
    let (list, field): (Vec<&Value>, &str) = match (obj.get("event"), obj.get("events")) {
        (Some(_), Some(_)) => {
            return Err(ReplyError::new(
                ErrorCode::InvalidField,
                "give either \"event\" or \"events\", not both",
            ))
        }
        (Some(event), None) => (vec![event], "event"),
        (None, Some(Value::Array(events))) => (events.iter().collect(), "events"),
        (None, Some(other)) => {
            return Err(ReplyError::wrong_type("events", "an array of objects", other))
        }
        (None, None) => return Err(ReplyError::missing("event")),
    };
    if list.len() > MAX_AUDIT_EVENTS {
        return Err(ReplyError::new(
            ErrorCode::InvalidField,
            format!(
                "field \"events\" has {} events; at most {MAX_AUDIT_EVENTS} per request",
                list.len()
            ),
        ));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, event)| {
            let name = if field == "events" { format!("events[{i}]") } else { field.to_owned() };
            let Value::Object(event) = event else {
                return Err(ReplyError::wrong_type(&name, "an object", event));
            };
            match event.get("kind") {
                Some(Value::String(k)) if !k.is_empty() => {}
                None => return Err(ReplyError::missing(&format!("{name}.kind"))),
                Some(other) => {
                    return Err(ReplyError::wrong_type(
                        &format!("{name}.kind"),
                        "a non-empty string",
                        other,
                    ))
                }
            }
            if let Some(flag) = event.get("fullUrl") {
                if !flag.is_boolean() {
                    return Err(ReplyError::wrong_type(
                        &format!("{name}.fullUrl"),
                        "a boolean",
                        flag,
                    ));
                }
            }
            Ok(event.clone())
        })
        .collect()
}

/// The reply for a successful request.
pub fn ok_reply(id: &Value, data: Value) -> Value {
    json!({ "v": PROTOCOL_VERSION, "id": id, "ok": true, "data": data })
}

/// The reply for a failed request.
pub fn error_reply(id: &Value, error: &ReplyError) -> Value {
    json!({
        "v": PROTOCOL_VERSION,
        "id": id,
        "ok": false,
        "error": { "code": error.code.code(), "name": error.code.name(), "message": error.message },
    })
}

/// The JSON type of a value, as error messages name it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Result<Request, DecodeError> {
        decode_request(v.to_string().as_bytes())
    }

    fn code_of(r: Result<Request, DecodeError>) -> (Value, ErrorCode, String) {
        let e = r.expect_err("expected a decode error");
        (e.id, e.error.code, e.error.message)
    }

    #[test]
    fn error_codes_are_append_only_and_numbered_in_order() {
        // Guard: renumbering or renaming a shipped code breaks the extension's mirror.
        let expected = [
            (1, "invalid_json"),
            (2, "invalid_utf8"),
            (3, "frame_too_large"),
            (4, "unknown_type"),
            (5, "invalid_field"),
            (6, "unsupported_version"),
            (7, "io_error"),
            (8, "token_malformed"),
            (9, "token_too_large"),
            (10, "unavailable"),
            (11, "internal"),
            (12, "reply_too_large"),
            (13, "timeout"),
        ];
        let actual: Vec<_> = ErrorCode::ALL.iter().map(|c| (c.code(), c.name())).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn protocol_md_lists_every_error_code() {
        let doc = include_str!("../PROTOCOL.md");
        for code in ErrorCode::ALL {
            let row = format!("| {} | `{}` |", code.code(), code.name());
            assert!(doc.contains(&row), "PROTOCOL.md lacks the row {row}");
        }
    }

    #[test]
    fn decodes_each_request_type() {
        let ok = |v| decode(v).expect("valid request").kind;
        assert_eq!(ok(json!({"v":1,"id":1,"type":"hello"})), RequestKind::Hello);
        assert_eq!(ok(json!({"v":1,"id":"a","type":"identity"})), RequestKind::Identity);
        assert_eq!(ok(json!({"v":1,"id":2,"type":"approvals"})), RequestKind::Approvals);
        assert_eq!(
            ok(json!({"v":1,"id":3,"type":"network"})),
            RequestKind::Network { probe_hosts: vec![] }
        );
        assert_eq!(
            ok(json!({"v":1,"id":3,"type":"network","probeHosts":["intranet.corp.example"]})),
            RequestKind::Network { probe_hosts: vec!["intranet.corp.example".into()] }
        );
        assert_eq!(
            ok(json!({"v":1,"id":4,"type":"import_approval","token":"a.b.c"})),
            RequestKind::ImportApproval { token: "a.b.c".into() }
        );
        let RequestKind::Audit { events } =
            ok(json!({"v":1,"id":5,"type":"audit","event":{"kind":"blocked"}}))
        else {
            panic!("expected audit")
        };
        assert_eq!(events.len(), 1);
        let RequestKind::Audit { events } = ok(
            json!({"v":1,"id":5,"type":"audit","events":[{"kind":"blocked"},{"kind":"warned"}]}),
        ) else {
            panic!("expected audit")
        };
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn unknown_extra_fields_are_ignored() {
        let r = decode(json!({"v":1,"id":7,"type":"hello","future":{"x":1}})).unwrap();
        assert_eq!(r.id, json!(7));
    }

    #[test]
    fn bad_utf8_gets_invalid_utf8() {
        let (id, code, msg) = code_of(decode_request(b"{\"v\":1,\"id\":\"\xff\"}"));
        assert_eq!((id, code), (Value::Null, ErrorCode::InvalidUtf8));
        assert!(msg.contains("offset 13"), "{msg}");
    }

    #[test]
    fn bad_json_gets_invalid_json() {
        for body in [&b"{\"v\":1,"[..], b"", b"null", b"[1,2]", b"\"hello\""] {
            let (id, code, _) = code_of(decode_request(body));
            assert_eq!((id, code), (Value::Null, ErrorCode::InvalidJson), "{body:?}");
        }
    }

    #[test]
    fn id_must_be_string_or_number() {
        let (id, code, msg) = code_of(decode(json!({"v":1,"type":"hello"})));
        assert_eq!((id, code), (Value::Null, ErrorCode::InvalidField));
        assert!(msg.contains("\"id\""), "{msg}");
        for bad in [json!(null), json!(true), json!([1]), json!({"a":1})] {
            let (id, code, msg) = code_of(decode(json!({"v":1,"id":bad,"type":"hello"})));
            assert_eq!((id, code), (Value::Null, ErrorCode::InvalidField));
            assert!(msg.contains("\"id\" must be a string or a number"), "{msg}");
        }
    }

    #[test]
    fn version_is_checked_and_the_id_echoed() {
        let (id, code, _) = code_of(decode(json!({"v":2,"id":"x","type":"hello"})));
        assert_eq!((id, code), (json!("x"), ErrorCode::UnsupportedVersion));
        let (id, code, msg) = code_of(decode(json!({"v":"1","id":"x","type":"hello"})));
        assert_eq!((id, code), (json!("x"), ErrorCode::InvalidField));
        assert!(msg.contains("\"v\" must be a number, got string"), "{msg}");
        let (_, code, _) = code_of(decode(json!({"id":"x","type":"hello"})));
        assert_eq!(code, ErrorCode::InvalidField);
    }

    #[test]
    fn unknown_type_names_the_known_ones() {
        let (id, code, msg) = code_of(decode(json!({"v":1,"id":9,"type":"launch_missiles"})));
        assert_eq!((id, code), (json!(9), ErrorCode::UnknownType));
        assert!(msg.contains("launch_missiles") && msg.contains("import_approval"), "{msg}");
        let (_, code, _) = code_of(decode(json!({"v":1,"id":9,"type":5})));
        assert_eq!(code, ErrorCode::InvalidField);
    }

    #[test]
    fn wrong_field_types_name_the_field() {
        let cases = [
            (json!({"v":1,"id":1,"type":"import_approval"}), "missing field \"token\""),
            (
                json!({"v":1,"id":1,"type":"import_approval","token":42}),
                "\"token\" must be a string",
            ),
            (json!({"v":1,"id":1,"type":"network","probeHosts":"x"}), "\"probeHosts\" must be"),
            (json!({"v":1,"id":1,"type":"network","probeHosts":[1]}), "\"probeHosts[0]\" must be"),
            (
                json!({"v":1,"id":1,"type":"network","probeHosts":["ok.example","../etc"]}),
                "\"probeHosts[1]\" is not a DNS host name",
            ),
            (json!({"v":1,"id":1,"type":"audit"}), "missing field \"event\""),
            (json!({"v":1,"id":1,"type":"audit","event":"x"}), "\"event\" must be an object"),
            (json!({"v":1,"id":1,"type":"audit","event":{}}), "missing field \"event.kind\""),
            (
                json!({"v":1,"id":1,"type":"audit","events":[{"kind":"a"},{"kind":1}]}),
                "\"events[1].kind\" must be a non-empty string",
            ),
            (
                json!({"v":1,"id":1,"type":"audit","event":{"kind":"a","fullUrl":"yes"}}),
                "\"event.fullUrl\" must be a boolean",
            ),
            (json!({"v":1,"id":1,"type":"audit","events":{}}), "\"events\" must be an array"),
            (json!({"v":1,"id":1,"type":"audit","event":{"kind":"a"},"events":[]}), "not both"),
        ];
        for (request, needle) in &cases {
            let (id, code, msg) = code_of(decode(request.clone()));
            assert_eq!((id, code), (json!(1), ErrorCode::InvalidField), "{request}");
            assert!(msg.contains(needle), "{request}: {msg}");
        }
        assert_eq!(cases.len(), 12);
    }

    #[test]
    fn batch_and_probe_limits() {
        let events: Vec<Value> = (0..=MAX_AUDIT_EVENTS).map(|_| json!({"kind":"a"})).collect();
        let (_, code, _) = code_of(decode(json!({"v":1,"id":1,"type":"audit","events":events})));
        assert_eq!(code, ErrorCode::InvalidField);
        let hosts: Vec<Value> =
            (0..=MAX_PROBE_HOSTS).map(|i| json!(format!("h{i}.example"))).collect();
        let (_, code, _) =
            code_of(decode(json!({"v":1,"id":1,"type":"network","probeHosts":hosts})));
        assert_eq!(code, ErrorCode::InvalidField);
    }

    #[test]
    fn host_name_check() {
        for good in ["a", "intranet.corp.example", "dc01.corp.example.", "_ldap._tcp", "10.0.0.1"] {
            assert!(is_host_name(good), "{good}");
        }
        for bad in ["", ".", "a..b", "-a.example", "a b", "a/b", "http://x", &"a".repeat(64), "::1"]
        {
            assert!(!is_host_name(bad), "{bad}");
        }
    }

    #[test]
    fn replies_have_the_envelope() {
        assert_eq!(
            ok_reply(&json!(3), json!({"x":1})),
            json!({"v":1,"id":3,"ok":true,"data":{"x":1}})
        );
        let e = ReplyError::new(ErrorCode::UnknownType, "nope");
        assert_eq!(
            error_reply(&Value::Null, &e),
            json!({"v":1,"id":null,"ok":false,"error":{"code":4,"name":"unknown_type","message":"nope"}})
        );
    }
}
