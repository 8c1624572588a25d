//! Patterns as declarativeNetRequest conditions: every spelling of a URL the matcher accepts, written the way Chromium's rule engine sees it.
//!
//! The matcher works on normalised URLs (`request.rs`): trailing dot dropped, unreserved path
//! escapes decoded, translate proxies resolved to the site they carry. Chromium matches rules
//! against the canonical URL as the browser sends it: host lowercased but the trailing dot kept,
//! `%6D` left as it is, the proxy host as written. So one pattern becomes several conditions:
//!
//! | spelling | condition |
//! |---|---|
//! | the site, any host form | `requestDomains` (Chromium ignores the trailing dot there) |
//! | an exact host | + a regex pinning the host (trailing dots, userinfo, port) |
//! | a path prefix | + a regex where each unreserved character is itself or its `%XX` escape |
//! | `mail-google-com.translate.goog` | `requestDomains` of the proxy host (+ the path, as written) |
//! | `www-mail-google-com.translate.goog` (a subdomain, non-exact patterns) | a regex on the label |
//! | `translate.google.com/…?u=mail.google.com` (host patterns) | a regex on the `u` parameter |
//!
//! Behind the translate proxy the path is compared as written, and a frontend's `?u=` names a
//! host only as `request::translate_u_hosts` reads it: both are what a regex can spell within
//! Chromium's limits, and the engine decides by the same reading, so the two always agree.
//!
//! Chromium compiles each `regexFilter` with RE2 under a 2 KB memory limit (Latin-1, case
//! folded: `declarative_net_request/utils.cc`, `CreateRE2Options`), about 116 instructions after
//! a literal prefix. Regexes are built from pieces whose instruction counts were measured with
//! `declarativeNetRequest.isRegexSupported` on Chromium 156; a regex that would not fit is split
//! into several (each path character's spellings become separate regexes) and packed host lists
//! are cut to fit. `tests/browser/differential.test.mjs` installs the output for real.

use crate::pattern::{is_name_byte, is_unreserved, Pattern};
use crate::request::{translate_proxy_host, TRANSLATE_FRONTENDS};

/// A condition: hosts (and subdomains) in `requestDomains`, and an optional `regexFilter`.
pub(crate) type Condition = (Vec<String>, Option<String>);

/// A condition and whether it spells a translate proxy by regex: those are the first to go
/// when a very large policy would pass Chrome's regex rule limit (`rules.rs`).
pub(crate) type Spelled = (Condition, bool);

/// RE2 instructions a regex may use (measured limit 116, kept with a small margin).
const BUDGET: u32 = 114;
/// `^[a-z]+://`: the scheme, with RE2's fixed overhead.
const SCHEME: (&str, u32) = ("^[a-z]+://", 8);
/// Any authority, then the path's `/` (canonical http(s)/ws(s) URLs always have a path).
const ANY_AUTHORITY: (&str, u32) = ("[!-.0-~]*/", 5);
/// After a path prefix: DNR's `^` separator (`pattern::is_name_byte` inverted), `%7E` (an
/// escaped `~`, a separator once decoded) or the end; without `%7E` behind the proxy.
const BOUNDARY_COST: (u32, u32) = (19, 15);
/// Userinfo, then the host (appended), then trailing dots and port: cost without the host.
const EXACT_AUTHORITY_COST: u32 = 13;
/// A translate.goog label ending in `-` + the carried host's label: cost without the labels.
const SUBDOMAIN_PROXY_COST: u32 = 27;
/// The `?u=` reading up to the host, and after it: cost without the hosts.
const U_PARAMETER_COST: u32 = 47;

/// The conditions that match exactly the URLs `patterns` match, for one priority and action.
/// Deterministic: the same patterns in any order give the same conditions.
pub(crate) fn conditions(patterns: &[Pattern]) -> Vec<Spelled> {
    let mut patterns = patterns.to_vec();
    patterns.sort();
    patterns.dedup();
    let mut domains = Vec::new();
    let mut out = Vec::new();
    let (mut exact_hosts, mut proxy_labels, mut u_hosts, mut u_exact_hosts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in &patterns {
        let host = p.host();
        let proxied = translate_proxy_host(host);
        match (p.is_exact(), p.path()) {
            (false, None) => {
                domains.push(host.to_owned());
                domains.push(proxied.clone());
                proxy_labels.push(proxy_label(&proxied).to_owned());
                u_hosts.push(host.to_owned());
            }
            (true, None) => {
                exact_hosts.push(host.to_owned());
                // The proxy encodes the exact host in one label: its subdomains carry it too.
                domains.push(proxied);
                u_exact_hosts.push(host.to_owned());
            }
            (exact, Some(path)) => {
                let tokens = path_tokens(path, true);
                // Behind the proxy the path is compared as written (`request.rs`).
                let raw = path_tokens(path, false);
                let authority = if exact {
                    (
                        exact_authority(&regex_escape(host)),
                        EXACT_AUTHORITY_COST + literal_cost(host),
                    )
                } else {
                    (ANY_AUTHORITY.0.to_owned(), ANY_AUTHORITY.1)
                };
                for regex in split_to_fit(authority, &tokens, true) {
                    out.push(((vec![host.to_owned()], Some(regex)), false));
                }
                let any = (ANY_AUTHORITY.0.to_owned(), ANY_AUTHORITY.1);
                for regex in split_to_fit(any, &raw, false) {
                    out.push(((vec![proxied.clone()], Some(regex)), true));
                }
                if !exact {
                    let label = proxy_label(&proxied);
                    let sub = (
                        subdomain_proxy_authority(&regex_escape(label)),
                        SUBDOMAIN_PROXY_COST + literal_cost(label),
                    );
                    for regex in split_to_fit(sub, &raw, false) {
                        out.push(((vec![TRANSLATE_GOOG.to_owned()], Some(regex)), true));
                    }
                }
            }
        }
    }
    let mut plain = Vec::new();
    if !domains.is_empty() {
        domains.sort();
        domains.dedup();
        plain.push(((domains, None), false));
    }
    for hosts in pack(&exact_hosts, SCHEME.1 + EXACT_AUTHORITY_COST) {
        let regex = format!("{}{}", SCHEME.0, exact_authority(&alternation(&hosts)));
        out.push(((hosts, Some(regex)), false));
    }
    for labels in pack(&proxy_labels, SCHEME.1 + SUBDOMAIN_PROXY_COST) {
        let regex = format!("{}{}", SCHEME.0, subdomain_proxy_authority(&alternation(&labels)));
        out.push(((vec![TRANSLATE_GOOG.to_owned()], Some(regex)), true));
    }
    let frontends: Vec<String> = TRANSLATE_FRONTENDS.iter().map(|f| (*f).to_owned()).collect();
    for (hosts, subdomains) in [(&u_hosts, true), (&u_exact_hosts, false)] {
        for hosts in pack(hosts, SCHEME.1 + U_PARAMETER_COST + if subdomains { 8 } else { 0 }) {
            let regex = translate_u_regex(&alternation(&hosts), subdomains);
            out.push(((frontends.clone(), Some(regex)), true));
        }
    }
    plain.extend(out);
    plain
}

/// The proxy host's first label (`mail-google-com` of `mail-google-com.translate.goog`).
fn proxy_label(proxied: &str) -> &str {
    proxied.strip_suffix(".translate.goog").unwrap_or(proxied)
}

const TRANSLATE_GOOG: &str = "translate.goog";

/// Userinfo, `host` (a regex), trailing dots and a port, then the path's `/`. `[.:0-9]*` also
/// admits strings no URL parser accepts (`host.1`, `host::`): only valid URLs reach the rules.
fn exact_authority(host: &str) -> String {
    format!("(?:[^/@]*@)?{host}[.:0-9]*/")
}

/// A `translate.goog` host whose last label is `label` (a regex) after an odd run of dashes:
/// the proxy decodes `--` to `-` and a single `-` to `.`, so `www-mail-google-com` and
/// `a---mail-google-com` carry a subdomain of `mail.google.com`, `a--mail-google-com` does not
/// (`request.rs`, `decode_translate_label`).
fn subdomain_proxy_authority(label: &str) -> String {
    // `requestDomains` holds `translate.goog`, so `\.[a-z]+\.goog` before the port can only be it.
    format!("(?:[^/]*[^-/])?(?:--)*-{label}\\.[a-z]+\\.goog[.:0-9]*/")
}

/// A frontend URL whose query has a `u` parameter naming `hosts` (a regex) as
/// `request::translate_u_hosts` reads it; with `subdomains`, their subdomains too.
fn translate_u_regex(hosts: &str, subdomains: bool) -> String {
    let labels = if subdomains { "(?:[a-z0-9-]+\\.)*" } else { "" };
    format!(
        "{}[^/]*/[^?#]*\\?(?:[^#]*&)?u=(?:[a-z]*(?::|%3a))?(?:/|%2f)*{labels}{hosts}\\.*(?:[^a-z0-9.-]|$)",
        SCHEME.0
    )
}

/// One path character as the browser may send it, with RE2's cost of each spelling.
struct Token {
    spellings: Vec<(String, u32)>,
}

impl Token {
    /// The token as one regex piece (an alternation when it has several spellings).
    fn joined(&self) -> (String, u32) {
        match self.spellings.as_slice() {
            [one] => one.clone(),
            many => {
                let text = many.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join("|");
                (format!("(?:{text})"), many.iter().map(|(_, c)| c).sum::<u32>() + 1)
            }
        }
    }
}

/// The path after its leading `/`. With `decode` (as `pattern::normalise_path` does), each
/// unreserved character is itself or its escape (`m`, `%6D`, `%4D` — the matcher compares
/// case-insensitively); escapes the matcher keeps (`%2F`) and other characters are literal.
fn path_tokens(path: &str, decode: bool) -> Vec<Token> {
    let bytes = path.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        if let (b'%', Some(hex)) = (b, hex) {
            for &c in [b'%'].iter().chain(hex) {
                tokens.push(Token { spellings: vec![(char::from(c).to_string(), 1)] });
            }
            i += 3;
            continue;
        }
        let literal = regex_escape(&char::from(b).to_string());
        let spellings = if !decode {
            vec![(literal, 1)]
        } else if b.is_ascii_alphabetic() {
            let (low, up) = (b.to_ascii_lowercase(), b.to_ascii_uppercase());
            // `m` is %6D or (the matcher ignores case) %4D: same low nibble, high nibbles 6|4
            // (a–o) or 7|5 (p–z).
            vec![(literal, 1), (format!("%[{:x}{:x}]{:x}", up >> 4, low >> 4, low & 0x0f), 5)]
        } else if is_unreserved(b) {
            vec![(literal, 1), (format!("%{b:02x}"), 3)]
        } else {
            vec![(literal, 1)]
        };
        tokens.push(Token { spellings });
        i += 1;
    }
    tokens
}

/// The boundary after a path prefix, derived from `pattern::is_name_byte`; with `decode`, `%7E`
/// too (an escaped `~`, a separator once decoded).
fn boundary(decode: bool) -> String {
    let mut class = String::from("[^");
    let mut names: Vec<u8> =
        (0u8..=127).filter(|&c| is_name_byte(c) && !c.is_ascii_uppercase()).collect();
    // RE2 folds case: `a-z` covers `A-Z`. Ranges keep the class short.
    names.sort_unstable();
    let mut i = 0;
    while i < names.len() {
        let start = names[i];
        let mut end = start;
        while i + 1 < names.len() && names[i + 1] == end + 1 {
            i += 1;
            end = names[i];
        }
        let esc = |c: u8| if c == b'-' { "\\-".to_owned() } else { char::from(c).to_string() };
        class.push_str(&esc(start));
        if end > start {
            class.push('-');
            class.push_str(&esc(end));
        }
        i += 1;
    }
    class.push(']');
    if decode {
        format!("(?:{class}|%7e|$)")
    } else {
        format!("(?:{class}|$)")
    }
}

/// `SCHEME + authority + tokens + boundary`, as few regexes as fit the budget: while one would
/// not fit, the first character with several spellings is split into one regex per spelling.
fn split_to_fit(authority: (String, u32), tokens: &[Token], decode: bool) -> Vec<String> {
    let mut out = Vec::new();
    let prefix = format!("{}{}", SCHEME.0, authority.0);
    let cost = if decode { BOUNDARY_COST.0 } else { BOUNDARY_COST.1 };
    split(prefix, SCHEME.1 + authority.1, tokens, &(boundary(decode), cost), &mut out);
    out
}

fn split(
    prefix: String,
    cost: u32,
    tokens: &[Token],
    boundary: &(String, u32),
    out: &mut Vec<String>,
) {
    let joined: Vec<(String, u32)> = tokens.iter().map(Token::joined).collect();
    let total = cost + joined.iter().map(|(_, c)| c).sum::<u32>() + boundary.1;
    let first_split = tokens.iter().position(|t| t.spellings.len() > 1);
    match first_split {
        Some(at) if total > BUDGET => {
            let fixed: String = joined[..at].iter().map(|(s, _)| s.as_str()).collect();
            let fixed_cost: u32 = joined[..at].iter().map(|(_, c)| c).sum();
            for (spelling, c) in &tokens[at].spellings {
                let prefix = format!("{prefix}{fixed}{spelling}");
                split(prefix, cost + fixed_cost + c, &tokens[at + 1..], boundary, out);
            }
        }
        _ => {
            let body: String = joined.iter().map(|(s, _)| s.as_str()).collect();
            out.push(format!("{prefix}{body}{}", boundary.0));
        }
    }
}

/// Groups of `items` (sorted first) whose alternation fits beside `fixed` instructions.
fn pack(items: &[String], fixed: u32) -> Vec<Vec<String>> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    let mut groups: Vec<Vec<String>> = Vec::new();
    for item in items {
        match groups.last_mut() {
            Some(group) if fixed + alternation_cost(group, &item) <= BUDGET => group.push(item),
            _ => groups.push(vec![item]),
        }
    }
    groups
}

/// RE2's instructions for the alternation of sorted `group` + `next`: RE2 factors the common
/// leading literal of adjacent alternatives (`parse.cc`, `FactorAlternation`), so a sorted list
/// costs its trie — one instruction per trie edge, one per further branch, one more where an
/// alternative is a prefix of the next (an empty branch).
fn alternation_cost(group: &[String], next: &str) -> u32 {
    let mut cost = 0;
    let mut previous: Option<&str> = None;
    for item in group.iter().map(String::as_str).chain([next]) {
        let shared = previous.map_or(0, |p| common_prefix(p, item));
        cost += literal_cost(&item[shared..]) + u32::from(previous.is_some());
        if previous.is_some_and(|p| shared == p.len()) {
            cost += 1;
        }
        previous = Some(item);
    }
    cost
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn alternation(items: &[String]) -> String {
    let escaped: Vec<String> = items.iter().map(|i| regex_escape(i)).collect();
    match escaped.as_slice() {
        [one] => one.clone(),
        many => format!("(?:{})", many.join("|")),
    }
}

/// One RE2 instruction per literal character (case folded, so letters need no class).
fn literal_cost(s: &str) -> u32 {
    u32::try_from(s.len()).unwrap_or(u32::MAX)
}

pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any condition for `patterns` matches `url` as Chromium would see it: hosts
    /// without the trailing dot for `requestDomains`, the regex case-folded on the raw URL.
    fn hit(patterns: &[&str], url: &str) -> bool {
        let patterns: Vec<Pattern> = patterns.iter().map(|p| Pattern::parse(p).unwrap()).collect();
        let parsed = url::Url::parse(url).unwrap();
        let host = parsed.host_str().unwrap().trim_end_matches('.');
        conditions(&patterns).into_iter().any(|((domains, regex), _)| {
            let domain_ok = domains.iter().any(|d| {
                host == d || host.strip_suffix(d.as_str()).is_some_and(|r| r.ends_with('.'))
            });
            let regex_ok = regex.is_none_or(|re| {
                regex::RegexBuilder::new(&re)
                    .case_insensitive(true)
                    .build()
                    .unwrap()
                    .is_match(parsed.as_str())
            });
            domain_ok && regex_ok
        })
    }

    #[test]
    fn exact_hosts_take_a_trailing_dot_userinfo_and_port() {
        let p = ["=126.com"];
        for url in [
            "https://126.com/",
            "https://126.com./",
            "https://u:p@126.com.:8443/x",
            "http://126.COM/",
        ] {
            assert!(hit(&p, url), "{url}");
        }
        for url in ["https://a.126.com/", "https://x126.com/", "https://126.com.evil.example/"] {
            assert!(!hit(&p, url), "{url}");
        }
    }

    #[test]
    fn path_characters_match_escaped_in_either_case() {
        let p = ["facebook.com/messages"];
        for url in [
            "https://www.facebook.com/messages",
            "https://www.facebook.com/%6Dessages/t/1",
            "https://www.facebook.com/%4Dessages",
            "https://www.facebook.com/%6d%65%73%73%61%67%65%73?x",
            "https://www.facebook.com./MESSAGES/",
            "https://u@www.facebook.com:444/messages%7Ex",
            "https://www.facebook.com/messages~x",
        ] {
            assert!(hit(&p, url), "{url}");
        }
        for url in [
            "https://www.facebook.com/messagesx",
            "https://www.facebook.com/messages%41",
            "https://www.facebook.com/%5Dessages",
            "https://www.facebook.com/groups",
        ] {
            assert!(!hit(&p, url), "{url}");
        }
        // p–z escape to %7X / %5X, not %6X / %4X.
        assert!(hit(&["x.com/i/chat"], "https://x.com/%69/%63hat"));
        assert!(hit(&["box.com/s"], "https://box.com/%73/1"));
        assert!(hit(&["box.com/s"], "https://box.com/%53/1"));
    }

    #[test]
    fn long_paths_split_into_regexes_that_each_fit() {
        let p = Pattern::parse("feishu.cn/next/messenger").unwrap();
        let regexes: Vec<String> =
            conditions(&[p]).into_iter().filter_map(|((_, re), _)| re).collect();
        let direct: Vec<&String> = regexes.iter().filter(|r| r.contains("[!-.0-~]*/")).collect();
        assert!(direct.len() > 2, "{direct:?}");
        let hp = ["feishu.cn/next/messenger"];
        assert!(hit(&hp, "https://www.feishu.cn/%6Eext/%6D%65ssenger/x"));
        assert!(hit(&hp, "https://www.feishu.cn/next/messe%6Eger"));
        assert!(hit(&hp, "https://www.feishu.cn/%4E%45%58%54/%4D%45%53%53%45%4E%47%45%52"));
        assert!(!hit(&hp, "https://www.feishu.cn/next/messengers"));
    }

    #[test]
    fn translate_goog_labels_carry_the_site_and_its_subdomains() {
        let p = ["dropbox.com", "=126.com", "facebook.com/messages"];
        for url in [
            "https://dropbox-com.translate.goog/",
            "https://www-dropbox-com.translate.goog/home",
            "https://a---dropbox-com.translate.goog/",
            "https://x.www-dropbox-com.translate.goog./",
            "https://126-com.translate.goog/",
            "https://www-facebook-com.translate.goog/messages/t/1",
        ] {
            assert!(hit(&p, url), "{url}");
        }
        for url in [
            "https://a--dropbox-com.translate.goog/",
            "https://www-126-com.translate.goog/",
            "https://www-facebook-com.translate.goog/marketplace",
            "https://dropbox-com.translate.goog.evil.example/",
        ] {
            assert!(!hit(&p, url), "{url}");
        }
    }

    #[test]
    fn translate_u_parameters_name_the_site() {
        let p = ["web.telegram.org", "=126.com"];
        for url in [
            "https://translate.google.com/translate?sl=auto&u=https://web.telegram.org/",
            "https://translate.google.com.hk/translate?u=https%3A%2F%2FWEB.telegram.org%2F",
            "https://x.translate.google.co.uk/?u=//k.web.telegram.org.:443/",
            "https://translate.googleusercontent.com/translate_c?u=example.org&U=http:126.com",
        ] {
            assert!(hit(&p, url), "{url}");
        }
        for url in [
            "https://translate.google.com/translate?u=https://web.telegram.org.evil.example/",
            "https://translate.google.com/translate?u=https://www.126.com/",
            "https://translate.google.com/translate?xu=web.telegram.org",
            "https://translate.google.com/translate?u=web%2Etelegram.org",
            "https://translate.google.example/translate?u=web.telegram.org",
        ] {
            assert!(!hit(&p, url), "{url}");
        }
    }

    #[test]
    fn conditions_do_not_depend_on_input_order() {
        let a: Vec<Pattern> = ["b.example", "=a.example", "c.example/x"]
            .iter()
            .map(|p| Pattern::parse(p).unwrap())
            .collect();
        let mut b = a.clone();
        b.reverse();
        assert_eq!(conditions(&a), conditions(&b));
    }
}
