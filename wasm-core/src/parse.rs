//! `Parser`: walks policy JSON, collecting a [`Warning`] with its path for every entry it skips or adjusts.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalogue::Names;

/// A policy entry that was skipped or adjusted, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// JSON path of the entry (`$.allowlist[3]`).
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// How a JSON value's type reads in a warning (`an array`).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Walks the JSON, collecting warnings with paths. Every `get_*` helper reports a wrong type
/// and returns `None`, so callers fall back to the (fail-closed) default for that entry.
#[derive(Default)]
pub(crate) struct Parser {
    pub(crate) warnings: Vec<Warning>,
}

impl Parser {
    pub(crate) fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Warning { path: path.to_owned(), message: message.into() });
    }

    /// Warns about keys of `obj` not in `known`.
    pub(crate) fn known_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            self.warn(
                &format!("{path}.{key}"),
                format!("unknown key {key:?} ignored (known: {})", known.join(", ")),
            );
        }
    }

    pub(crate) fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
    ) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(o) => Some(o),
            other => {
                self.warn(
                    path,
                    format!("expected an object, found {}; entry ignored", kind(other)),
                );
                None
            }
        }
    }

    pub(crate) fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.warn(path, format!("expected a string, found {}; entry ignored", kind(other)));
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.warn(
                    path,
                    format!("expected true or false, found {}; entry ignored", kind(other)),
                );
                None
            }
        }
    }

    pub(crate) fn positive(&mut self, v: &Value, path: &str, max: u32) -> Option<u32> {
        match v.as_u64() {
            Some(n) if (1..=u64::from(max)).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.warn(
                    path,
                    format!("expected a whole number from 1 to {max}, found {v}; default used"),
                );
                None
            }
        }
    }

    /// An array of strings; non-strings are skipped with a warning each.
    pub(crate) fn strings(&mut self, v: &Value, path: &str) -> Vec<(String, String)> {
        let Value::Array(items) = v else {
            self.warn(
                path,
                format!("expected an array of strings, found {}; entry ignored", kind(v)),
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_path = format!("{path}[{i}]");
                self.string(item, &item_path).map(|s| (item_path, s.to_owned()))
            })
            .collect()
    }

    /// `"text"` (every language) or `{"en": …, "zh_TW": …, "zh_CN": …}`.
    pub(crate) fn names(&mut self, v: &Value, path: &str) -> Option<Names> {
        if let Value::String(s) = v {
            return Some(Names::same(s));
        }
        let obj = self.object(v, path)?;
        self.known_keys(obj, path, &["en", "zh_TW", "zh_CN"]);
        let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
        let Some(en) = text("en") else {
            self.warn(path, "a name needs at least \"en\"");
            return None;
        };
        Some(Names { zh_tw: text("zh_TW").unwrap_or_else(|| en.clone()), zh_cn: text("zh_CN"), en })
    }
}
