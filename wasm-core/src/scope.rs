//! Scope: is this desktop "connected to the internal network"? The native host reports facts;
//! the policy says which facts count. Unknown facts never take a machine out of scope.

use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::parse::Parser;
use crate::pattern::{host_within, normalise_host};

/// The policy's scope conditions. With none, every machine is in scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// The machine must be joined to one of these domains (empty: no join requirement).
    pub joined_domains: Vec<String>,
    /// Network facts, any one of which means "on the internal network" (empty: no requirement).
    pub network: NetworkConditions,
    /// What to assume when the host cannot tell (default: in scope, i.e. fail closed).
    pub when_unknown_in_scope: bool,
}

/// Which network facts count as "on the internal network".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConditions {
    /// Windows NLA reports a `DomainAuthenticated` connection.
    pub domain_authenticated: bool,
    /// The joined domain's controllers are discoverable.
    pub domain_controllers_discoverable: bool,
    /// SSSD reports its domain online.
    pub sssd_online: bool,
    /// An interface address inside one of these networks.
    pub cidrs: Vec<ipnet::IpNet>,
    /// A DNS search domain / connection suffix equal to or under one of these.
    pub dns_suffixes: Vec<String>,
    /// One of these internal host names resolves.
    pub resolves: Vec<String>,
}

impl NetworkConditions {
    fn is_empty(&self) -> bool {
        !self.domain_authenticated
            && !self.domain_controllers_discoverable
            && !self.sssd_online
            && self.cidrs.is_empty()
            && self.dns_suffixes.is_empty()
            && self.resolves.is_empty()
    }
}

/// The scope verdict, with a stable reason code and the fact that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeDecision {
    /// Whether the policy applies to this machine now.
    pub in_scope: bool,
    /// `no_conditions`, `not_joined`, `other_domain`, `off_network`, `on_network`,
    /// `joined` or `facts_unknown`.
    pub reason: &'static str,
    /// A sentence for the status and block pages.
    pub explanation: String,
}

impl Scope {
    /// The host names the native host should try to resolve for this policy.
    pub fn probe_hosts(&self) -> &[String] {
        &self.network.resolves
    }

    /// Applies the conditions to the facts in `context`.
    pub fn evaluate(&self, context: &Context) -> ScopeDecision {
        let decision =
            |in_scope, reason, explanation: String| ScopeDecision { in_scope, reason, explanation };
        if self.joined_domains.is_empty() && self.network.is_empty() {
            return decision(true, "no_conditions", "The policy applies to every machine.".into());
        }
        let unknown = |what: &str| {
            decision(
                self.when_unknown_in_scope,
                "facts_unknown",
                format!(
                    "The {what} could not be determined; the policy treats the machine as {}.",
                    if self.when_unknown_in_scope {
                        "connected to the internal network"
                    } else {
                        "outside it"
                    }
                ),
            )
        };
        if !self.joined_domains.is_empty() {
            let Some(identity) = &context.identity else {
                return unknown("machine's domain membership");
            };
            let domain = identity.domain.as_deref().map(str::to_ascii_lowercase);
            match domain {
                _ if !identity.joined => {
                    return decision(
                        false,
                        "not_joined",
                        "This machine is not joined to a department domain.".into(),
                    )
                }
                Some(d) if self.joined_domains.contains(&d) => {}
                other => {
                    return decision(
                        false,
                        "other_domain",
                        format!(
                            "This machine is joined to {}, not to a department domain.",
                            other.unwrap_or_else(|| "an unknown domain".into())
                        ),
                    )
                }
            }
        }
        if self.network.is_empty() {
            return decision(
                true,
                "joined",
                "This machine is joined to a department domain.".into(),
            );
        }
        let Some(facts) = &context.network else { return unknown("network location") };
        let n = &self.network;
        let mut any_known = false;
        let mut fact = |enabled: bool, value: Option<bool>| {
            any_known |= enabled && value.is_some();
            enabled && value == Some(true)
        };
        let by_flag = [
            (
                fact(n.domain_authenticated, facts.domain_authenticated),
                "Windows reports a domain-authenticated network",
            ),
            (
                fact(n.domain_controllers_discoverable, facts.domain_controllers_discoverable),
                "the domain's controllers are reachable",
            ),
            (fact(n.sssd_online, facts.sssd_online), "SSSD reports the domain online"),
        ];
        if let Some((_, why)) = by_flag.iter().find(|(hit, _)| *hit) {
            return decision(true, "on_network", format!("On the internal network: {why}."));
        }
        let addresses: Vec<std::net::IpAddr> =
            facts.addresses.iter().filter_map(|a| a.parse().ok()).collect();
        if let Some(a) = addresses.iter().find(|a| n.cidrs.iter().any(|net| net.contains(*a))) {
            return decision(
                true,
                "on_network",
                format!("On the internal network: address {a} is in an internal range."),
            );
        }
        let suffix_hit = facts
            .dns_suffixes
            .iter()
            .filter_map(|s| normalise_host(s))
            .find(|s| n.dns_suffixes.iter().any(|want| host_within(s, want)));
        if let Some(s) = suffix_hit {
            return decision(
                true,
                "on_network",
                format!("On the internal network: DNS suffix {s}."),
            );
        }
        if let Some(r) = facts
            .resolved_hosts
            .iter()
            .find(|r| r.resolved && n.resolves.iter().any(|h| h.eq_ignore_ascii_case(&r.host)))
        {
            return decision(
                true,
                "on_network",
                format!("On the internal network: {} resolves.", r.host),
            );
        }
        // The absence of an address or suffix sign is evidence only when the host saw the
        // interfaces (a real address, or a suffix): an empty or unreadable list means the reading
        // failed, or there is no network to reach anything through, never "off the network".
        let interfaces_seen = !facts.dns_suffixes.is_empty()
            || addresses.iter().any(|a| !a.is_loopback() && !is_link_local(a));
        any_known |= ((!n.cidrs.is_empty() || !n.dns_suffixes.is_empty()) && interfaces_seen)
            || (!n.resolves.is_empty() && !facts.resolved_hosts.is_empty());
        if !any_known {
            return unknown("network location");
        }
        decision(false, "off_network", "None of the policy's internal-network signs is present: this machine is not on the internal network.".into())
    }
}

fn is_link_local(a: &std::net::IpAddr) -> bool {
    match a {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Parses `$.scope`.
pub(crate) fn parse(p: &mut Parser, v: &Value, path: &str) -> Scope {
    let mut scope = Scope { when_unknown_in_scope: true, ..Scope::default() };
    if v.is_null() {
        return scope;
    }
    let Some(obj) = p.object(v, path) else { return scope };
    p.known_keys(obj, path, &["joinedDomains", "network", "whenUnknown"]);
    if let Some(list) = obj.get("joinedDomains") {
        for (item_path, d) in p.strings(list, &format!("{path}.joinedDomains")) {
            match normalise_host(&d) {
                Some(d) => scope.joined_domains.push(d),
                None => p.warn(&item_path, format!("{d:?} is not a domain name; ignored")),
            }
        }
    }
    if let Some(when) = obj.get("whenUnknown") {
        match when.as_str() {
            Some("in_scope") => scope.when_unknown_in_scope = true,
            Some("out_of_scope") => scope.when_unknown_in_scope = false,
            _ => p.warn(
                &format!("{path}.whenUnknown"),
                "must be \"in_scope\" or \"out_of_scope\"; in_scope applied",
            ),
        }
    }
    if let Some(net) = obj.get("network") {
        let net_path = format!("{path}.network");
        if let Some(nobj) = p.object(net, &net_path) {
            p.known_keys(
                nobj,
                &net_path,
                &[
                    "domainAuthenticated",
                    "domainControllersDiscoverable",
                    "sssdOnline",
                    "cidrs",
                    "dnsSuffixes",
                    "resolves",
                ],
            );
            let n = &mut scope.network;
            let flag = |p: &mut Parser, key: &str| {
                nobj.get(key)
                    .and_then(|b| p.boolean(b, &format!("{net_path}.{key}")))
                    .unwrap_or(false)
            };
            n.domain_authenticated = flag(p, "domainAuthenticated");
            n.domain_controllers_discoverable = flag(p, "domainControllersDiscoverable");
            n.sssd_online = flag(p, "sssdOnline");
            if let Some(list) = nobj.get("cidrs") {
                for (item_path, c) in p.strings(list, &format!("{net_path}.cidrs")) {
                    match c.parse::<ipnet::IpNet>() {
                        Ok(net) => n.cidrs.push(net.trunc()),
                        Err(_) => p.warn(
                            &item_path,
                            format!("{c:?} is not a network such as 10.0.0.0/8; ignored"),
                        ),
                    }
                }
            }
            for (key, out) in [("dnsSuffixes", &mut n.dns_suffixes), ("resolves", &mut n.resolves)]
            {
                if let Some(list) = nobj.get(key) {
                    for (item_path, h) in p.strings(list, &format!("{net_path}.{key}")) {
                        match normalise_host(&h) {
                            Some(h) => out.push(h),
                            None => {
                                p.warn(&item_path, format!("{h:?} is not a host name; ignored"))
                            }
                        }
                    }
                }
            }
        }
    }
    if !scope.joined_domains.is_empty() || !scope.network.is_empty() {
        return scope;
    }
    if obj.contains_key("joinedDomains") || obj.contains_key("network") {
        p.warn(path, "no usable scope condition is left; the policy applies to every machine");
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Identity, NetworkFacts};
    use crate::Policy;

    fn scope(json: &str) -> Scope {
        Policy::from_json(&format!(r#"{{"scope": {json}}}"#)).unwrap().policy.scope
    }

    fn joined(domain: &str) -> Identity {
        Identity { joined: true, domain: Some(domain.into()), ..Identity::default() }
    }

    #[test]
    fn no_conditions_means_everywhere() {
        assert!(
            Scope { when_unknown_in_scope: true, ..Scope::default() }
                .evaluate(&Context::default())
                .in_scope
        );
    }

    #[test]
    fn joined_domain_and_network_facts() {
        let s = scope(
            r#"{"joinedDomains": ["CORP.example"], "network": {"domainControllersDiscoverable": true, "cidrs": ["10.1.0.0/16"]}}"#,
        );
        let mut ctx = Context { identity: Some(joined("corp.example")), ..Context::default() };
        assert_eq!(s.evaluate(&ctx).reason, "facts_unknown");
        assert!(s.evaluate(&ctx).in_scope, "unknown network facts must fail closed");
        ctx.network = Some(NetworkFacts {
            domain_controllers_discoverable: Some(false),
            ..NetworkFacts::default()
        });
        assert_eq!(s.evaluate(&ctx).reason, "off_network");
        ctx.network = Some(NetworkFacts {
            domain_controllers_discoverable: Some(true),
            ..NetworkFacts::default()
        });
        assert_eq!(s.evaluate(&ctx).reason, "on_network");
        ctx.network = Some(NetworkFacts {
            addresses: vec!["10.1.2.3".into()],
            domain_controllers_discoverable: Some(false),
            ..NetworkFacts::default()
        });
        assert!(s.evaluate(&ctx).in_scope);
        ctx.identity = Some(joined("other.example"));
        assert_eq!(s.evaluate(&ctx).reason, "other_domain");
        ctx.identity = Some(Identity::default());
        assert_eq!(s.evaluate(&ctx).reason, "not_joined");
        ctx.identity = None;
        assert_eq!(s.evaluate(&ctx).reason, "facts_unknown");
        assert!(s.evaluate(&ctx).in_scope);
    }

    /// Regression (issue 9): a host that reported no interface addresses (or only loopback and
    /// link-local ones, or unparsable text) took the machine off the internal network whenever
    /// the policy's signs were address ranges or DNS suffixes. Missing facts are unknown facts.
    #[test]
    fn missing_or_odd_address_facts_never_take_a_machine_out_of_scope() {
        let s = scope(r#"{"network": {"cidrs": ["10.0.0.0/8"], "dnsSuffixes": ["corp.example"]}}"#);
        let facts = |addresses: &[&str]| Context {
            network: Some(NetworkFacts {
                addresses: addresses.iter().map(|a| (*a).into()).collect(),
                ..NetworkFacts::default()
            }),
            ..Context::default()
        };
        for odd in
            [&[][..], &["127.0.0.1", "::1"], &["169.254.10.1", "fe80::1"], &["not an address"]]
        {
            let d = s.evaluate(&facts(odd));
            assert_eq!((d.in_scope, d.reason), (true, "facts_unknown"), "{odd:?}");
        }
        let home = s.evaluate(&facts(&["192.168.1.5"]));
        assert_eq!(
            (home.in_scope, home.reason),
            (false, "off_network"),
            "a real address elsewhere"
        );
        assert!(s.evaluate(&facts(&["10.2.3.4"])).in_scope);
    }

    #[test]
    fn dns_suffix_matches_on_label_boundaries() {
        let s = scope(r#"{"network": {"dnsSuffixes": ["corp.example"]}}"#);
        let ctx = |suffix: &str| Context {
            network: Some(NetworkFacts {
                dns_suffixes: vec![suffix.into()],
                ..NetworkFacts::default()
            }),
            ..Context::default()
        };
        assert!(s.evaluate(&ctx("hq.corp.example")).in_scope);
        assert!(!s.evaluate(&ctx("evilcorp.example")).in_scope);
    }
}
