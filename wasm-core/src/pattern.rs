//! Host/path patterns — the one grammar shared by the catalogue, extra rules and the allowlist.
//!
//! | written            | matches                                                        |
//! |--------------------|----------------------------------------------------------------|
//! | `example.com`      | `example.com` and every subdomain (label boundaries only)      |
//! | `*.example.com`    | the same (accepted because administrators write it this way)   |
//! | `=example.com`     | exactly `example.com`                                          |
//! | `example.com/path` | host and subdomains, path starting with `/path` at a boundary  |
//!
//! A scheme (`https://`) in front is ignored. Hosts are normalised exactly like request hosts
//! (WHATWG: lowercase, IDNA to punycode, trailing dot dropped), so a pattern and a URL that the
//! browser considers the same host always compare equal.

use std::fmt;

/// The longest path prefix a pattern may have: a prefix is a few segments, never a whole URL.
pub const MAX_PATH_LEN: usize = 1024;
/// The longest host name DNS allows.
const MAX_HOST_LEN: usize = 253;

/// A parsed pattern. Hosts are ASCII lowercase; `path` is lowercase and starts with `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pattern {
    host: Box<str>,
    exact: bool,
    path: Option<Box<str>>,
}

/// Why a pattern could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// Nothing but whitespace.
    #[error("empty pattern")]
    Empty,
    /// The host part is not a valid host name or address.
    #[error("{0:?} is not a valid host")]
    InvalidHost(String),
    /// A single label such as `com` or `localhost` would match a whole top-level domain.
    #[error("{0:?} is a bare top-level name; give a registrable domain such as example.com")]
    TooBroad(String),
    /// Ports, credentials, queries and fragments cannot be matched reliably.
    #[error("{0:?} has a port, credentials, query or fragment; give host and optional path only")]
    Unsupported(String),
    /// Longer than any host (253 bytes) or than a path prefix may be (`MAX_PATH_LEN`).
    #[error("{0:?} is too long: hosts have at most 253 characters, path prefixes at most 1024")]
    TooLong(String),
    /// Wildcards are only allowed as a leading `*.`.
    #[error("{0:?} has a wildcard in the middle; only a leading \"*.\" is supported")]
    Wildcard(String),
}

impl Pattern {
    /// Parses one pattern (see the module table).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        let (exact, rest) = match text.strip_prefix('=') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let rest = rest.split_once("://").map_or(rest, |(_, after)| after);
        let rest = rest.strip_prefix("*.").unwrap_or(rest);
        if rest.contains('*') {
            return Err(PatternError::Wildcard(text.to_owned()));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(PatternError::Unsupported(text.to_owned()));
        }
        let (raw_host, raw_path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        // Reject a port ourselves: the WHATWG parser would silently drop a default one.
        let has_port = match raw_host.strip_prefix('[') {
            Some(v6) => v6.contains("]:"),
            None => raw_host.contains(':'),
        };
        if has_port {
            return Err(PatternError::Unsupported(text.to_owned()));
        }
        let host =
            normalise_host(raw_host).ok_or_else(|| PatternError::InvalidHost(text.to_owned()))?;
        if !host.contains(['.', ':']) {
            return Err(PatternError::TooBroad(text.to_owned()));
        }
        if host.len() > MAX_HOST_LEN || raw_path.is_some_and(|p| p.len() > MAX_PATH_LEN) {
            return Err(PatternError::TooLong(text.chars().take(80).collect()));
        }
        let path = match raw_path {
            None | Some("/") => None,
            Some(p) => {
                let p = normalise_path(p);
                let p = p.trim_end_matches('/');
                (!p.is_empty()).then(|| p.to_ascii_lowercase().into_boxed_str())
            }
        };
        Ok(Self { host: host.into_boxed_str(), exact, path })
    }

    /// Rebuilds a pattern from parts already validated by [`Pattern::parse`].
    pub(crate) fn from_parts(host: &str, exact: bool, path: Option<&str>) -> Self {
        Self { host: host.into(), exact, path: path.map(Into::into) }
    }

    /// The normalised host this pattern is anchored on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether only the host itself matches (no subdomains).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// The path prefix, if the pattern has one.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// Whether a normalised request host and path fall under this pattern.
    pub fn matches(&self, host: &str, path: &str) -> bool {
        let host_ok = if self.exact { host == &*self.host } else { host_within(host, &self.host) };
        host_ok && self.path.as_deref().is_none_or(|prefix| path_within(path, prefix))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exact {
            f.write_str("=")?;
        }
        f.write_str(&self.host)?;
        if let Some(path) = &self.path {
            f.write_str(path)?;
        }
        Ok(())
    }
}

/// `host` equals `suffix` or ends with `.suffix` — a label-boundary suffix match.
pub fn host_within(host: &str, suffix: &str) -> bool {
    match host.strip_suffix(suffix) {
        Some("") => true,
        Some(rest) => rest.ends_with('.'),
        None => false,
    }
}

/// `path` starts with `prefix` (ASCII case-insensitively) and the next character is not part of
/// the same name — the same boundary as declarativeNetRequest's `^` separator, so the classifier
/// and the compiled rules agree: `/messages` covers `/messages/t/1` and `/messages?x`, never
/// `/messagesfoo`.
pub fn path_within(path: &str, prefix: &str) -> bool {
    let (p, q) = (path.as_bytes(), prefix.as_bytes());
    p.len() >= q.len()
        && p[..q.len()].eq_ignore_ascii_case(q)
        && p.get(q.len()).is_none_or(|&c| !is_name_byte(c))
}

/// Bytes that DNR does not treat as a separator: letters, digits and `_ - . %`.
pub(crate) fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'%')
}

/// Normalises a host the way the browser does (WHATWG host parser: lowercase, IDNA, IPv4
/// canonical form) and drops a trailing dot, which names the same host.
pub fn normalise_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.contains(['/', '\\', '?', '#', '@', ' ']) {
        return None;
    }
    let host = url::Host::parse(raw).ok()?;
    let mut host = host.to_string();
    while host.ends_with('.') {
        host.pop();
    }
    (!host.is_empty() && !host.contains("..")).then_some(host)
}

/// RFC 3986 §2.3 unreserved characters: their percent-escapes name the same resource, so
/// [`normalise_path`] decodes them and the rule compiler spells both forms.
pub(crate) fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// Decodes percent-escapes of unreserved characters (RFC 3986 §2.3: they name the same
/// resource), so `/%6Dessages` is seen as `/messages`. Other escapes stay as they are, so a path
/// whose escapes are all of other characters (`/%E4%B8%AD`, common) is returned as it is: this
/// runs on every request, and an allocation costs more than the scan, most of all in wasm.
pub fn normalise_path(path: &str) -> std::borrow::Cow<'_, str> {
    let bytes = path.as_bytes();
    let unreserved_at = |i: usize| match bytes.get(i..i + 3) {
        Some(&[b'%', high, low]) => {
            let c = hex_digit(high)? << 4 | hex_digit(low)?;
            is_unreserved(c).then_some(c)
        }
        _ => None,
    };
    let Some(first) = (0..bytes.len()).find(|&i| unreserved_at(i).is_some()) else {
        return path.into();
    };
    let mut out = String::with_capacity(path.len());
    let (mut copied, mut i) = (0, first);
    while i < bytes.len() {
        match unreserved_at(i) {
            Some(c) => {
                // `i` is at a `%` and `copied` just past an escape: both character boundaries.
                out.push_str(&path[copied..i]);
                out.push(char::from(c));
                i += 3;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&path[copied..]);
    out.into()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_boundaries_only() {
        let p = Pattern::parse("mail.google.com").unwrap();
        assert!(p.matches("mail.google.com", "/"));
        assert!(p.matches("x.mail.google.com", "/"));
        assert!(!p.matches("evilmail.google.com", "/"));
        assert!(!p.matches("mail.google.com.evil.example", "/"));
        assert!(!p.matches("google.com", "/"));
    }

    #[test]
    fn exact_and_wildcard_forms() {
        let exact = Pattern::parse("=web.whatsapp.com").unwrap();
        assert!(exact.matches("web.whatsapp.com", "/"));
        assert!(!exact.matches("x.web.whatsapp.com", "/"));
        assert_eq!(
            Pattern::parse("*.example.com").unwrap(),
            Pattern::parse("example.com").unwrap()
        );
        assert_eq!(Pattern::parse("https://Example.COM./").unwrap().to_string(), "example.com");
    }

    #[test]
    fn path_prefix_stops_at_separators() {
        let p = Pattern::parse("www.facebook.com/Messages/").unwrap();
        assert_eq!(p.path(), Some("/messages"));
        assert!(p.matches("www.facebook.com", "/messages"));
        assert!(p.matches("www.facebook.com", "/messages/t/123"));
        assert!(p.matches("www.facebook.com", "/MESSAGES?x=1"));
        assert!(!p.matches("www.facebook.com", "/messagesfoo"));
        assert!(!p.matches("www.facebook.com", "/marketplace"));
    }

    #[test]
    fn idn_is_punycoded() {
        // Python: "郵件".encode("idna") == b"xn--5nqv22n", "香港" → b"xn--j6w193g".
        let p = Pattern::parse("郵件.Example.香港").unwrap();
        assert_eq!(p.host(), "xn--5nqv22n.example.xn--j6w193g");
    }

    #[test]
    fn bad_patterns_are_specific_errors() {
        assert_eq!(Pattern::parse("  "), Err(PatternError::Empty));
        assert!(matches!(Pattern::parse("com"), Err(PatternError::TooBroad(_))));
        assert!(matches!(Pattern::parse("a.*.com"), Err(PatternError::Wildcard(_))));
        assert!(matches!(Pattern::parse("a.com:8080"), Err(PatternError::Unsupported(_))));
        assert!(matches!(Pattern::parse("a.com/x?y"), Err(PatternError::Unsupported(_))));
        assert!(matches!(Pattern::parse("exa mple.com"), Err(PatternError::InvalidHost(_))));
        let long_path = format!("a.example/{}", "x".repeat(MAX_PATH_LEN));
        assert!(matches!(Pattern::parse(&long_path), Err(PatternError::TooLong(_))));
        let long_host = format!("{}.example", "a.".repeat(130));
        // The IDNA step may already refuse it; either way it is not a pattern.
        assert!(matches!(
            Pattern::parse(&long_host),
            Err(PatternError::TooLong(_) | PatternError::InvalidHost(_))
        ));
    }

    #[test]
    fn unreserved_escapes_are_decoded() {
        assert_eq!(normalise_path("/%6Dessages"), "/messages");
        assert_eq!(normalise_path("/a%2Fb"), "/a%2Fb");
        assert_eq!(normalise_path("/%"), "/%");
        assert_eq!(normalise_path("/%4"), "/%4");
        assert_eq!(normalise_path("/%E4%B8%ADx%6d%7E/%2e%"), "/%E4%B8%ADxm~/.%");
        assert_eq!(normalise_path("/€%41€"), "/€A€");
    }

    #[test]
    fn a_path_without_unreserved_escapes_is_not_copied() {
        for path in ["/messages", "/%E4%B8%AD%E6%96%87/page", "/a%2Fb%", "/%zz%4"] {
            assert!(matches!(normalise_path(path), std::borrow::Cow::Borrowed(p) if p == path));
        }
    }
}
