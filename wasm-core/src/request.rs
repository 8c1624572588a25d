//! Requests: a URL exactly as the browser reports it, normalised once, fallibly.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::pattern::{normalise_host, normalise_path};

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
    /// Navigations (top-level or framed) are redirected to the block page; other requests to a
    /// blocked service are simply blocked.
    pub fn is_navigation(self) -> bool {
        matches!(self, Self::MainFrame | Self::SubFrame)
    }
}

impl FromStr for ResourceType {
    type Err = RequestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| RequestError::ResourceType(s.to_owned()))
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

/// A normalised request. Build one with [`Request::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    url: String,
    resource_type: ResourceType,
    web: Option<WebTarget>,
}

/// The host and path a web request really reaches, after unwrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebTarget {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) path: String,
    /// Set when the host is a web proxy carrying another site (`mail-google-com.translate.goog`).
    pub(crate) via_proxy: Option<String>,
}

impl Request {
    /// Parses and normalises `url` (WHATWG, like the browser). `blob:`, `filesystem:` and
    /// `view-source:` are unwrapped to the URL they carry; translation proxies are resolved to
    /// the site they re-host. Non-web schemes (`chrome:`, `about:`, `data:`, extension pages)
    /// parse fine and are simply never categorised.
    pub fn new(url: &str, resource_type: ResourceType) -> Result<Self, RequestError> {
        if url.len() > MAX_URL_LEN {
            return Err(RequestError::TooLong(url.len()));
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
        Ok(Self { url: url.to_owned(), resource_type, web: web_target(&parsed) })
    }

    /// The URL exactly as given.
    pub fn url(&self) -> &str {
        &self.url
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
        self.web.as_ref().map(|w| w.host.as_str())
    }

    /// The `scheme://host[:port]` origin, for audit events that must not carry the full URL.
    pub fn origin(&self) -> Option<String> {
        self.web.as_ref().map(|w| match w.port {
            Some(port) => format!("{}://{}:{port}", w.scheme, w.host),
            None => format!("{}://{}", w.scheme, w.host),
        })
    }

    pub(crate) fn target(&self) -> Option<&WebTarget> {
        self.web.as_ref()
    }
}

fn web_target(url: &url::Url) -> Option<WebTarget> {
    let scheme = url.scheme();
    if !matches!(scheme, "http" | "https" | "ws" | "wss") {
        return None;
    }
    let host = normalise_host(url.host_str()?)?;
    if let Some(carried) = translate_proxy_target(&host, url) {
        return Some(carried);
    }
    Some(WebTarget {
        scheme: scheme.to_owned(),
        host,
        port: url.port(),
        path: normalise_path(url.path()).into_owned(),
        via_proxy: None,
    })
}

/// Google Translate's web proxy re-hosts `mail.google.com` as `mail-google-com.translate.goog`
/// (`-` ↔ `.`, `--` ↔ `-`) and the older form carries the site in `?u=`. Either way the user
/// reaches the carried site, so it is classified as that site.
fn translate_proxy_target(host: &str, url: &url::Url) -> Option<WebTarget> {
    let carried_host = if let Some(label) = host.strip_suffix(".translate.goog") {
        let label = label.rsplit('.').next()?;
        decode_translate_label(label)
    } else if is_translate_frontend(host) {
        let inner = url.query_pairs().find(|(k, _)| k == "u")?.1;
        let inner = url::Url::parse(&inner)
            .or_else(|_| url::Url::parse(&format!("https://{inner}")))
            .ok()?;
        let mut target = web_target(&inner)?;
        target.via_proxy = Some(host.to_owned());
        return Some(target);
    } else {
        return None;
    }?;
    Some(WebTarget {
        scheme: url.scheme().to_owned(),
        host: normalise_host(&carried_host)?,
        port: None,
        path: normalise_path(url.path()).into_owned(),
        via_proxy: Some(host.to_owned()),
    })
}

/// `translate.google.com`, `translate.google.com.hk`, … and the old proxy host.
fn is_translate_frontend(host: &str) -> bool {
    host == "translate.googleusercontent.com"
        || host.strip_prefix("translate.google.").is_some_and(|tld| tld.split('.').count() <= 2)
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
