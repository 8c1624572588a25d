//! A forgiving reader for the INI-like files the identity readers look at (sssd.conf, smb.conf, krb5.conf).
//!
//! `[section]` headers, `key = value` lines, `#`/`;` comments. Keys and section names are compared
//! case-insensitively (Samba and SSSD both do); values keep their case. Lines it does not
//! understand (krb5.conf's `{ … }` blocks, garbage) are skipped, never an error: a broken file
//! yields fewer facts, not a failure.

/// One parsed file: `(section, key, value)` in file order, section and key lowercased.
#[derive(Debug, Default)]
pub(crate) struct Conf {
    entries: Vec<(String, String, String)>,
}

impl Conf {
    pub(crate) fn parse(text: &str) -> Self {
        let mut section = String::new();
        let mut entries = Vec::new();
        let mut depth = 0usize;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_ascii_lowercase();
                depth = 0;
                continue;
            }
            // krb5.conf nests `REALM = { … }` blocks; only top-level keys are kept.
            if line.ends_with('{') {
                depth += 1;
                continue;
            }
            if line.starts_with('}') {
                depth = depth.saturating_sub(1);
                continue;
            }
            if depth > 0 {
                continue;
            }
            if let Some((key, value)) = line.split_once('=') {
                let key = key.trim().to_ascii_lowercase();
                if !key.is_empty() {
                    entries.push((section.clone(), key, value.trim().to_owned()));
                }
            }
        }
        Conf { entries }
    }

    /// The last value of `key` in `section` (later lines win, as in Samba and SSSD).
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(s, k, _)| s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key))
            .map(|(_, _, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Section names in file order, without duplicates.
    pub(crate) fn sections(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (s, _, _) in &self.entries {
            if !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_comments_and_blocks() {
        let conf = Conf::parse(
            "# comment\n[libdefaults]\n  default_realm = CORP.EXAMPLE\n\n[realms]\n CORP.EXAMPLE = {\n  kdc = dc01\n }\n[Global]\n Security = ADS\n; x = y\nrealm=CORP.EXAMPLE\nrealm = LATER.EXAMPLE\n",
        );
        assert_eq!(conf.get("libdefaults", "default_realm"), Some("CORP.EXAMPLE"));
        assert_eq!(conf.get("realms", "kdc"), None, "nested blocks are skipped");
        assert_eq!(conf.get("global", "security"), Some("ADS"));
        assert_eq!(conf.get("global", "x"), None);
        assert_eq!(conf.get("GLOBAL", "realm"), Some("LATER.EXAMPLE"), "last one wins");
        assert_eq!(conf.sections(), vec!["libdefaults", "global"]);
    }

    #[test]
    fn garbage_is_skipped() {
        let conf = Conf::parse("\u{0}\u{1}[[[\n=novalue\nkey without equals\n[sssd\nx = 1");
        assert_eq!(conf.get("", "x"), Some("1"));
        assert_eq!(conf.sections(), vec![""]);
    }
}
