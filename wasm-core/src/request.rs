//! Requests: a URL exactly as the browser reports it, normalised once, fallibly.

use std::borrow::Cow;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::pattern::{host_within, normalise_host, normalise_path};

/// How many wrappers (`view-source:blob:https://…`) are peeled before giving up.
const MAX_UNWRAP: usize = 4;
/// The longest URL accepted; Chromium itself refuses to navigate to longer ones (2 MiB).
const MAX_URL_LEN: usize = 2 * 1024 * 1024;

/// The declarativeNetRequest resource type of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ResourceType {
    MainFrame,
    SubFrame,
    Stylesheet,
    Script,
    Image,
    Font,
    Object,
    Xmlhttprequest,
    Ping,
    CspReport,
    Media,
    Websocket,
    Webtransport,
    Webbundle,
    Other,
}

impl ResourceType {
    /// Every resource type, in declarativeNetRequest's order.
    pub const ALL: [Self; 15] = [
        Self::MainFrame,
        Self::SubFrame,
        Self::Stylesheet,
        Self::Script,
        Self::Image,
        Self::Font,
        Self::Object,
        Self::Xmlhttprequest,
        Self::Ping,
        Self::CspReport,
        Self::Media,
        Self::Websocket,
        Self::Webtransport,
        Self::Webbundle,
        Self::Other,
    ];

    /// The declarativeNetRequest name (`main_frame`), as serde writes it too.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MainFrame => "main_frame",
            Self::SubFrame => "sub_frame",
            Self::Stylesheet => "stylesheet",
            Self::Script => "script",
            Self::Image => "image",
            Self::Font => "font",
            Self::Object => "object",
            Self::Xmlhttprequest => "xmlhttprequest",
            Self::Ping => "ping",
            Self::CspReport => "csp_report",
            Self::Media => "media",
            Self::Websocket => "websocket",
            Self::Webtransport => "webtransport",
            Self::Webbundle => "webbundle",
            Self::Other => "other",
        }
    }

    /// Navigations (top-level or framed) are redirected to the block page; other requests to a
    /// blocked service are simply blocked.
    pub fn is_navigation(self) -> bool {
        matches!(self, Self::MainFrame | Self::SubFrame)
    }
}

impl FromStr for ResourceType {
    type Err = RequestError;

    /// Not serde: the wasm surface parses one per request (`resource_type_names` ties the two).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| RequestError::ResourceType(s.to_owned()))
    }
}

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The URL does not parse under the WHATWG URL standard.
    #[error("{url:?} is not a valid URL: {reason}")]
    InvalidUrl {
        /// The URL (truncated to 200 characters).
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// Longer than any browser would load.
    #[error("URL of {0} bytes is longer than the 2 MiB a browser accepts")]
    TooLong(usize),
    /// Not one of declarativeNetRequest's resource types.
    #[error("{0:?} is not a resource type (main_frame, sub_frame, xmlhttprequest, …)")]
    ResourceType(String),
}

/// A normalised request. Build one with [`Request::new`]; it borrows the URL where the URL is
/// already in canonical form (most are), so reading one allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    resource_type: ResourceType,
    web: Option<WebTarget<'a>>,
    /// Other sites the request may carry (a translate frontend's further `u` readings, then the
    /// frontend itself), tried in order after `web`. Empty, and unallocated, for most requests.
    also: Box<[WebTarget<'a>]>,
}

/// The host and path a web request really reaches, after unwrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebTarget<'a> {
    pub(crate) scheme: &'static str,
    /// Borrowed from the URL on the fast path; owned when the parser or a proxy made it.
    host: Cow<'a, str>,
    /// The path, with unreserved escapes decoded.
    path: Cow<'a, str>,
    pub(crate) port: Option<u16>,
    /// Set when the host is a web proxy carrying another site (`mail-google-com.translate.goog`).
    pub(crate) via_proxy: Option<String>,
}

impl<'a> WebTarget<'a> {
    /// A target borrowing `host` and `path` from the URL; a path with escapes is decoded (a copy).
    fn borrowed(scheme: &'static str, host: &'a str, path: &'a str, escaped: bool) -> Self {
        let path = if escaped { normalise_path(path) } else { path.into() };
        Self { scheme, host: host.into(), path, port: None, via_proxy: None }
    }

    /// A target owning its parts (from the parser's buffer, or made up by a proxy's reading).
    fn owned(scheme: &'static str, host: &str, path: &str, port: Option<u16>) -> Self {
        let path = normalise_path(path).into_owned().into();
        Self { scheme, host: host.to_owned().into(), path, port, via_proxy: None }
    }

    /// The normalised host.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The path, with unreserved escapes decoded.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

impl<'a> Request<'a> {
    /// Parses and normalises `url` (WHATWG, like the browser). `blob:`, `filesystem:` and
    /// `view-source:` are unwrapped to the URL they carry; translation proxies are resolved to
    /// the site they re-host. Non-web schemes (`chrome:`, `about:`, `data:`, extension pages)
    /// parse fine and are simply never categorised.
    pub fn new(url: &'a str, resource_type: ResourceType) -> Result<Self, RequestError> {
        if url.len() > MAX_URL_LEN {
            return Err(RequestError::TooLong(url.len()));
        }
        if let Some(web) = canonical_web_target(url) {
            return Ok(Self { resource_type, web: Some(web), also: Box::new([]) });
        }
        let mut parsed = url::Url::parse(url).map_err(|e| RequestError::InvalidUrl {
            url: url.chars().take(200).collect(),
            reason: e.to_string(),
        })?;
        for _ in 0..MAX_UNWRAP {
            let inner = match parsed.scheme() {
                "blob" | "filesystem" | "view-source" => {
                    // The inner URL is everything after the scheme (blob:https://a/uuid).
                    url::Url::parse(&parsed.as_str()[parsed.scheme().len() + 1..]).ok()
                }
                _ => break,
            };
            match inner {
                Some(inner) => parsed = inner,
                None => break,
            }
        }
        let (web, also) = web_targets(&parsed);
        Ok(Self { resource_type, web, also })
    }

    /// The resource type as given.
    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }

    /// Whether this is an http(s)/ws(s) request that can be categorised at all.
    pub fn is_web(&self) -> bool {
        self.web.is_some()
    }

    /// The normalised host the request really reaches (after unwrapping), if a web request.
    pub fn host(&self) -> Option<&str> {
        self.web.as_ref().map(WebTarget::host)
    }

    /// The `scheme://host[:port]` origin, for audit events that must not carry the full URL.
    pub fn origin(&self) -> Option<String> {
        self.web.as_ref().map(|w| match w.port {
            Some(port) => format!("{}://{}:{port}", w.scheme, w.host()),
            None => format!("{}://{}", w.scheme, w.host()),
        })
    }

    pub(crate) fn target(&self) -> Option<&WebTarget<'a>> {
        self.web.as_ref()
    }

    /// The same request aimed at each further site it may carry (see `also`), in order.
    pub(crate) fn alternatives(&self) -> impl Iterator<Item = Request<'a>> + '_ {
        self.also.iter().map(|web| Self {
            resource_type: self.resource_type,
            web: Some(web.clone()),
            also: Box::new([]),
        })
    }
}

/// Where a parsed web URL goes: the site it reaches; for a translate frontend, first every site
/// its `u` parameters name, the frontend itself last (the second value: the rest, in order).
fn web_targets(url: &url::Url) -> (Option<WebTarget<'static>>, Box<[WebTarget<'static>]>) {
    let none = (None, Box::default());
    let Some(scheme) = web_scheme(url.scheme()) else { return none };
    // The WHATWG parser has already lowercased, IDNA-mapped and IPv4-canonicalised the host;
    // only the trailing dot (same host) is left to drop. Parsing it again would only repeat
    // that work.
    let Some(host) = url.host_str().and_then(trim_host) else { return none };
    if let Some(carried) = translate_goog_target(host, url) {
        return (Some(carried), Box::default());
    }
    let own = WebTarget::owned(scheme, host, url.path(), url.port());
    let carried = match url.query() {
        Some(query) if is_translate_frontend(host) => translate_u_hosts(query),
        _ => return (Some(own), Box::default()),
    };
    let mut targets: Vec<WebTarget<'static>> = carried
        .into_iter()
        .map(|carried| WebTarget {
            via_proxy: Some(host.to_owned()),
            ..WebTarget::owned(scheme, &carried, "/", None)
        })
        .collect();
    targets.push(own);
    let rest = targets.split_off(1);
    (targets.pop(), rest.into())
}

fn web_scheme(scheme: &str) -> Option<&'static str> {
    Some(match scheme {
        "http" => "http",
        "https" => "https",
        "ws" => "ws",
        "wss" => "wss",
        _ => return None,
    })
}

/// A parsed host without its trailing dot(s); `None` where [`normalise_host`] would refuse it.
fn trim_host(host: &str) -> Option<&str> {
    let host = host.trim_end_matches('.');
    (!host.is_empty() && !host.contains("..")).then_some(host)
}

/// The fast path for URLs already in the canonical form the browser reports them in
/// (`https://www.example.com/path?query`): when the scheme, host and path are such that the
/// WHATWG parser would return them unchanged, slice them out instead of parsing. Anything else
/// — uppercase, a port, userinfo, IDNA, a numeric last label (IPv4), dot segments, characters
/// the parser would percent-encode, a translation proxy — returns `None` and takes the full
/// parser, so both paths always agree (`fast_path_agrees_with_the_parser` checks it). One pass
/// over the bytes: this runs for every request the browser reports.
fn canonical_web_target(url: &str) -> Option<WebTarget<'_>> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else {
        ("http", url.strip_prefix("http://")?)
    };
    let (host, tail) = plain_host(rest)?;
    let (path, escaped) = plain_path(tail)?;
    Some(WebTarget::borrowed(scheme, host, path, escaped))
}

/// The host at the start of `rest` (up to `/`, `?` or `#`, one trailing dot dropped) and what
/// follows it, if the WHATWG host parser would return the host unchanged: lowercase ASCII
/// letters, digits, `-` and non-empty labels; no punycode label (the parser validates those); a
/// last label that does not start with a digit (the parser reads such hosts as IPv4 numbers);
/// and no `translate` label unless it is no translation proxy, which the full path resolves to
/// the site it carries.
fn plain_host(rest: &str) -> Option<(&str, &str)> {
    let bytes = rest.as_bytes();
    let mut label_start = 0;
    let mut last_label = 0;
    let mut translate_label = false;
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => {}
            b'.' if i > label_start => {
                translate_label |= &bytes[label_start..i] == b"translate";
                last_label = label_start;
                label_start = i + 1;
            }
            b'/' | b'?' | b'#' => {
                end = i;
                break;
            }
            _ => return None,
        }
        if i == label_start + 3 && &bytes[label_start..=i] == b"xn--" {
            return None;
        }
    }
    // `a.example.` is `a.example`; its last label is the one before the dot.
    let (host, last_label) = match rest[..end].strip_suffix('.') {
        Some(host) => (host, last_label),
        None => (&rest[..end], label_start),
    };
    let last_starts_with_digit = bytes.get(last_label).is_none_or(u8::is_ascii_digit);
    let proxy =
        translate_label && (host.ends_with(".translate.goog") || is_translate_frontend(host));
    if host.is_empty() || last_starts_with_digit || proxy {
        return None;
    }
    Some((host, &rest[end..]))
}

/// The path at the start of `tail` (up to `?` or `#`; `/` if empty) and whether it has escapes,
/// if the WHATWG path parser would return it unchanged: printable ASCII that it does not
/// percent-encode, no backslash (read as `/`), and no dot segment, plain (`/./`) or encoded
/// (`/%2e`). Conservative: any `/.` or `%2e` at all takes the full parser.
fn plain_path(tail: &str) -> Option<(&str, bool)> {
    let bytes = tail.as_bytes();
    let mut escaped = false;
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        let plain = match b {
            b'?' | b'#' => {
                end = i;
                break;
            }
            b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'\\' | b'^' | b'|' => false,
            b'.' => i == 0 || bytes[i - 1] != b'/',
            b'%' => {
                escaped = true;
                !matches!(bytes.get(i + 1..i + 3), Some([b'2', b'e' | b'E']))
            }
            _ => b.is_ascii_graphic(),
        };
        if !plain {
            return None;
        }
    }
    Some((if end == 0 { "/" } else { &tail[..end] }, escaped))
}

/// Google Translate's web proxy re-hosts `mail.google.com` as `mail-google-com.translate.goog`
/// (`-` ↔ `.`, `--` ↔ `-`): the user reaches the carried site, so it is classified as that site.
fn translate_goog_target(host: &str, url: &url::Url) -> Option<WebTarget<'static>> {
    let label = host.strip_suffix(".translate.goog")?.rsplit('.').next()?;
    let carried = normalise_host(&decode_translate_label(label)?)?;
    // The path is compared as written, escapes and all: a regex that also spelled every escape
    // of a path behind the proxy's label arithmetic would not fit Chromium's 2 KB regex limit
    // (`dnr.rs`), and the engine must decide exactly what the rules do.
    Some(WebTarget {
        scheme: web_scheme(url.scheme())?,
        host: carried.into(),
        path: url.path().to_owned().into(),
        port: None,
        via_proxy: Some(host.to_owned()),
    })
}

/// The translation frontends that take a site in `?u=` and send the browser on to its
/// `translate.goog` form, and their subdomains. One list for the engine and the compiled rules
/// (which name them in `requestDomains`); the `translate.goog` proxy itself is caught whatever
/// frontend sent the browser there.
pub(crate) const TRANSLATE_FRONTENDS: [&str; 15] = [
    "translate.google.ca",
    "translate.google.cn",
    "translate.google.co.in",
    "translate.google.co.jp",
    "translate.google.co.kr",
    "translate.google.co.uk",
    "translate.google.com",
    "translate.google.com.au",
    "translate.google.com.hk",
    "translate.google.com.mo",
    "translate.google.com.sg",
    "translate.google.com.tw",
    "translate.google.de",
    "translate.google.fr",
    "translate.googleusercontent.com",
];

/// A translation frontend or one of its subdomains.
fn is_translate_frontend(host: &str) -> bool {
    TRANSLATE_FRONTENDS.iter().any(|f| host_within(host, f))
}

/// The hosts a frontend's `u` parameters name, read from the raw query exactly as the compiled
/// rules read it (`rules.rs`, `translate_u_regex`), so both always agree:
/// `u=` then an optional `scheme:` (or `scheme%3A`), any `/` or `%2F`, then the longest run of
/// `[a-z0-9.-]` — trailing dots dropped, no empty label. Every `u` parameter counts, and each
/// with and without a scheme. Escaped host characters are not decoded: such a site is not
/// recognised here, but the `translate.goog` address the frontend sends the browser on to is.
pub(crate) fn translate_u_hosts(query: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for param in query.split('&') {
        let Some((key, value)) = param.split_once('=') else { continue };
        if !key.eq_ignore_ascii_case("u") {
            continue;
        }
        for reading in [strip_scheme(value), Some(value)].into_iter().flatten() {
            if let Some(host) = leading_host(strip_slashes(reading)) {
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
    }
    hosts
}

/// `value` after a leading `[a-z]*:` or `[a-z]*%3A`, if it has one.
fn strip_scheme(value: &str) -> Option<&str> {
    let rest = value.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    rest.strip_prefix(':').or_else(|| strip_prefix_ignore_case(rest, "%3a"))
}

fn strip_slashes(mut value: &str) -> &str {
    while let Some(rest) =
        value.strip_prefix('/').or_else(|| strip_prefix_ignore_case(value, "%2f"))
    {
        value = rest;
    }
    value
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// The host at the start of `value`: its longest `[a-z0-9.-]` run, lowercase, trailing dots
/// dropped; `None` if empty or with an empty label.
fn leading_host(value: &str) -> Option<String> {
    let end = value
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        .unwrap_or(value.len());
    let host = value[..end].trim_end_matches('.');
    let usable = !host.is_empty() && !host.starts_with('.') && !host.contains("..");
    usable.then(|| host.to_ascii_lowercase())
}

/// `mail-google-com` → `mail.google.com`; `my--site-com` → `my-site.com`.
fn decode_translate_label(label: &str) -> Option<String> {
    let decoded = label.replace("--", "\u{0}").replace('-', ".").replace('\u{0}', "-");
    decoded.contains('.').then_some(decoded)
}

/// The translate-proxy host that carries `host` (the inverse of [`decode_translate_label`]),
/// so the rule compiler can block the proxied form too.
pub(crate) fn translate_proxy_host(host: &str) -> String {
    format!("{}.translate.goog", host.replace('-', "--").replace('.', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> Option<String> {
        Request::new(url, ResourceType::MainFrame).unwrap().host().map(str::to_owned)
    }

    #[test]
    fn normalises_like_the_browser() {
        assert_eq!(
            host("HTTPS://User:Pw@Mail.Google.COM.:8443/x").as_deref(),
            Some("mail.google.com")
        );
        assert_eq!(host("https://xn--fsq.example/").as_deref(), Some("xn--fsq.example"));
        assert_eq!(host("https://例.example/").as_deref(), Some("xn--fsq.example"));
        assert_eq!(host("http://0x7f.1/").as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn unwraps_wrapper_schemes() {
        assert_eq!(host("blob:https://web.whatsapp.com/8b1f").as_deref(), Some("web.whatsapp.com"));
        assert_eq!(
            host("view-source:https://mail.google.com/").as_deref(),
            Some("mail.google.com")
        );
        assert_eq!(
            host("filesystem:https://drive.google.com/temporary/a").as_deref(),
            Some("drive.google.com")
        );
        assert_eq!(host("view-source:blob:https://a.example/x").as_deref(), Some("a.example"));
    }

    #[test]
    fn non_web_schemes_are_not_web() {
        for url in [
            "chrome://settings",
            "about:blank",
            "data:text/html,hi",
            "chrome-extension://abc/x.html",
        ] {
            assert!(!Request::new(url, ResourceType::MainFrame).unwrap().is_web(), "{url}");
        }
    }

    #[test]
    fn translation_proxies_carry_the_site() {
        assert_eq!(
            host("https://mail-google-com.translate.goog/mail/u/0/").as_deref(),
            Some("mail.google.com")
        );
        assert_eq!(
            host("https://my--site-example-com.translate.goog/").as_deref(),
            Some("my-site.example.com")
        );
        assert_eq!(
            host("https://translate.google.com/translate?sl=auto&u=https://web.telegram.org/")
                .as_deref(),
            Some("web.telegram.org")
        );
        assert_eq!(
            translate_proxy_host("my-site.example.com"),
            "my--site-example-com.translate.goog"
        );
    }

    /// The `?u=` grammar the compiled rules spell: every `u` parameter, with and without a
    /// scheme, `/` or `%2F` skipped, the longest host run; escaped host characters are not read.
    #[test]
    fn translate_u_parameter_readings() {
        let hosts = |q: &str| translate_u_hosts(q);
        assert_eq!(hosts("sl=auto&u=https://Web.Telegram.org./x"), ["web.telegram.org", "https"]);
        assert_eq!(hosts("u=https%3A%2F%2Fmail.google.com%2Fmail"), ["mail.google.com", "https"]);
        assert_eq!(hosts("U=//126.com:443/"), ["126.com"]);
        assert_eq!(hosts("u=mail.google.com"), ["mail.google.com"]);
        assert_eq!(hosts("u=a:b.example"), ["b.example", "a"]);
        assert_eq!(hosts("u=x.example&u=web.telegram.org"), ["x.example", "web.telegram.org"]);
        assert_eq!(hosts("u=web%2Etelegram.org"), ["web"]);
        assert!(hosts("u=.web.telegram.org").is_empty());
        assert!(hosts("u&xu=web.telegram.org").is_empty());
        let req = Request::new(
            "https://translate.google.com.hk/translate?u=a.example&u=web.telegram.org",
            ResourceType::MainFrame,
        )
        .unwrap();
        let order: Vec<String> = std::iter::once(req.clone())
            .chain(req.alternatives())
            .filter_map(|r| r.host().map(str::to_owned))
            .collect();
        assert_eq!(order, ["a.example", "web.telegram.org", "translate.google.com.hk"]);
    }

    #[test]
    fn resource_type_names() {
        for t in ResourceType::ALL {
            assert_eq!(t.name().parse::<ResourceType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
        }
    }

    proptest::proptest! {
        /// A parser differential is a way around a security check: wherever the fast path
        /// answers, it must answer exactly what the WHATWG parser does.
        #[test]
        fn fast_path_never_disagrees(
            scheme in "(https?|HTTP)://",
            host in "[a-zA-Z0-9.%_-]{0,12}(\\.[a-z0-9-]{1,6}){0,3}\\.?",
            tail in "[ -~\t]{0,24}",
        ) {
            let url = format!("{scheme}{host}{tail}");
            if let (Some(fast), Ok(parsed)) = (canonical_web_target(&url), url::Url::parse(&url)) {
                proptest::prop_assert_eq!(Some(fast), web_targets(&parsed).0, "{}", url);
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_the_parser() {
        let slow = |u: &str| web_targets(&url::Url::parse(u).unwrap()).0;
        let mut fast_taken = 0;
        for u in [
            "https://www.example.com/",
            "https://www.example.com",
            "https://www.example.com?x=1",
            "https://www.example.com#top",
            "http://mail.google.com./mail/u/0/",
            "https://a.example/%6Dessages/x?q=1#f",
            "https://a.example/a^b|c",
            "https://a.example/a/./b",
            "https://a.example/a/%2e%2E/b",
            "https://a.example/.well-known/x",
            "https://a.example/a b",
            "https://a.example/a\\b",
            "https://a.example/{x}",
            "https://A.example/",
            "https://a.example:443/",
            "https://u@a.example/",
            "https://xn--fsq.example/",
            "https://a.xn--j6w193g/",
            "http://0x7f.1/",
            "http://192.168.0.1/",
            "https://a.1/",
            "https://a..example/",
            "https://mail-google-com.translate.goog/mail/",
            "https://translate.google.com/translate?u=https://web.telegram.org/",
            "https://a.example/\u{4e2d}",
            "https://-a-.example/",
            "https://a.example.",
            "https://a.example../",
            "https://a.1./",
            "https://.a.example/",
            "https:///x",
            "https://www.translate.google.com/",
            "https://translate.google.com.evil.example/x",
            "https://translate.example/",
            "https://mail.example/%41%2f",
        ] {
            if let Some(fast) = canonical_web_target(u) {
                fast_taken += 1;
                assert_eq!(Some(fast), slow(u), "{u}");
            }
        }
        assert_eq!(fast_taken, 11, "the fast path should take exactly the plain cases");
    }

    #[test]
    fn bad_input_is_a_specific_error() {
        assert!(matches!(
            Request::new("not a url", ResourceType::MainFrame),
            Err(RequestError::InvalidUrl { .. })
        ));
        assert!(matches!("frame".parse::<ResourceType>(), Err(RequestError::ResourceType(_))));
        assert_eq!("sub_frame".parse::<ResourceType>(), Ok(ResourceType::SubFrame));
    }
}
