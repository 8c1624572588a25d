//! Network facts for the policy's scope check, gathered cheaply and within a fixed time budget.
//!
//! The host reports facts; wasm-core decides what they mean. Anything that needs the network
//! (the domain controllers' SRV record, SSSD's online state, the policy's probe hosts) runs in
//! parallel threads and is cut off at the budget: a fact not determined in time is `None`
//! ("unknown"), or `resolved: false` for a probe host.

pub mod dns;
#[cfg(windows)]
mod windows;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use gatehouse_core::{NetworkFacts, ResolvedHost};

use crate::identity::Identity;

/// The time budget for gathering the facts of one `network` request (PROTOCOL.md: ~1.2 s; its
/// deadline adds 750 ms for the host's own work before a `timeout` reply).
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(1200);

/// Gathers [`NetworkFacts`].
#[derive(Debug, Clone)]
pub struct NetworkProbe {
    root: PathBuf,
    budget: Duration,
    run_sssctl: bool,
    nameservers: Option<Vec<SocketAddr>>,
    resolver: fn(&str) -> bool,
}

impl NetworkProbe {
    /// A probe reading `resolv.conf` under `root` and never running system commands.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        NetworkProbe {
            root: root.into(),
            budget: DEFAULT_BUDGET,
            run_sssctl: false,
            nameservers: None,
            resolver: system_resolves,
        }
    }

    /// The probe for this machine: `/etc/resolv.conf`, `sssctl` when SSSD is installed.
    pub fn system() -> Self {
        NetworkProbe { run_sssctl: true, ..Self::new("/") }
    }

    /// A different time budget.
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Ask these DNS servers instead of the ones in `resolv.conf` (tests use a loopback server).
    #[must_use]
    pub fn with_nameservers(mut self, servers: Vec<SocketAddr>) -> Self {
        self.nameservers = Some(servers);
        self
    }

    /// Resolve probe hosts with `resolver` instead of the system's (tests avoid real DNS traffic).
    #[must_use]
    pub fn with_resolver(mut self, resolver: fn(&str) -> bool) -> Self {
        self.resolver = resolver;
        self
    }

    /// Gathers the facts. `identity` supplies the joined domain for the SRV and SSSD checks.
    pub fn gather(&self, identity: Option<&Identity>, probe_hosts: &[String]) -> NetworkFacts {
        let deadline = Instant::now() + self.budget;
        let domain = identity.filter(|i| i.joined).and_then(|i| i.domain.clone());
        let (tx, rx) = mpsc::channel::<Finding>();

        let resolv = self.resolv_conf();
        if let Some(domain) = domain.clone() {
            let servers = self.nameservers.clone().unwrap_or_else(|| {
                resolv.nameservers.iter().map(|ip| SocketAddr::new(*ip, 53)).collect()
            });
            let tx = tx.clone();
            let budget = self.budget;
            std::thread::spawn(move || {
                let found = discover_domain_controllers(&domain, &servers, budget);
                let _ = tx.send(Finding::Controllers(found));
            });
        }
        if let (Some(domain), true, Some(sssctl)) =
            (domain, self.run_sssctl && self.root.join("etc/sssd").is_dir(), sssctl_path())
        {
            let tx = tx.clone();
            let budget = self.budget;
            std::thread::spawn(move || {
                let out = crate::util::run_with_timeout(
                    sssctl,
                    &["domain-status", "--online", &domain],
                    budget,
                );
                let _ = tx.send(Finding::Sssd(out.as_deref().and_then(parse_sssctl_online)));
            });
        }
        #[cfg(windows)]
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = tx.send(Finding::DomainAuthenticated(windows::domain_authenticated()));
            });
        }
        for (index, host) in probe_hosts.iter().enumerate() {
            let tx = tx.clone();
            let host = host.clone();
            let resolve = self.resolver;
            std::thread::spawn(move || {
                let _ = tx.send(Finding::Host(index, resolve(&host)));
            });
        }
        drop(tx);

        // The cheap, local facts while the threads work.
        let mut facts = NetworkFacts {
            addresses: interface_addresses(),
            dns_suffixes: self.dns_suffixes(&resolv),
            resolved_hosts: probe_hosts
                .iter()
                .map(|h| ResolvedHost { host: h.clone(), resolved: false })
                .collect(),
            ..NetworkFacts::default()
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Finding::DomainAuthenticated(yes)) => facts.domain_authenticated = yes,
                Ok(Finding::Controllers(found)) => facts.domain_controllers_discoverable = found,
                Ok(Finding::Sssd(online)) => facts.sssd_online = online,
                Ok(Finding::Host(i, resolved)) => {
                    if let Some(slot) = facts.resolved_hosts.get_mut(i) {
                        slot.resolved = resolved;
                    }
                }
                // Every sender done, or the budget spent: what is unknown stays unknown.
                Err(_) => break,
            }
        }
        facts
    }

    fn resolv_conf(&self) -> dns::ResolvConf {
        std::fs::read_to_string(self.root.join("etc/resolv.conf"))
            .map(|t| dns::parse_resolv_conf(&t))
            .unwrap_or_default()
    }

    #[cfg_attr(windows, allow(unused_variables))]
    fn dns_suffixes(&self, resolv: &dns::ResolvConf) -> Vec<String> {
        #[cfg(windows)]
        {
            windows::dns_suffixes()
        }
        #[cfg(not(windows))]
        {
            resolv.search.clone()
        }
    }
}

enum Finding {
    #[cfg_attr(not(windows), allow(dead_code))]
    DomainAuthenticated(Option<bool>),
    Controllers(Option<bool>),
    Sssd(Option<bool>),
    Host(usize, bool),
}

#[cfg_attr(windows, allow(unused_variables))]
fn discover_domain_controllers(
    domain: &str,
    servers: &[SocketAddr],
    budget: Duration,
) -> Option<bool> {
    let name = format!("_ldap._tcp.dc._msdcs.{domain}");
    #[cfg(windows)]
    {
        windows::srv_exists(&name)
    }
    #[cfg(not(windows))]
    {
        dns::srv_exists(servers, &name, budget)
    }
}

/// Whether the system resolver (getaddrinfo and friends) finds at least one address for `host`.
pub fn system_resolves(host: &str) -> bool {
    (host, 0).to_socket_addrs().is_ok_and(|mut a| a.next().is_some())
}

/// The addresses of the machine's interfaces that are not down, loopback excluded.
pub fn interface_addresses() -> Vec<String> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else { return Vec::new() };
    let mut out: Vec<String> = interfaces
        .iter()
        .filter(|i| !i.is_loopback() && i.oper_status != if_addrs::IfOperStatus::Down)
        .map(|i| i.ip().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Where distributions install `sssctl` (Debian/Ubuntu and RHEL/Fedora: `/usr/sbin`). Only these
/// absolute paths are run: a bare `sssctl` would be found through the user's `PATH`, and their
/// own script could report the domain "online" (issue 9, finding 8).
pub const SSSCTL_PATHS: [&str; 2] = ["/usr/sbin/sssctl", "/usr/bin/sssctl"];

/// The first of [`SSSCTL_PATHS`] that is a file on this machine.
fn sssctl_path() -> Option<&'static str> {
    SSSCTL_PATHS.into_iter().find(|p| std::path::Path::new(p).is_file())
}

/// Reads `sssctl domain-status --online` output (`Online status: Online`).
pub fn parse_sssctl_online(text: &str) -> Option<bool> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if !key.trim().eq_ignore_ascii_case("online status") {
            return None;
        }
        match value.trim().to_ascii_lowercase().as_str() {
            "online" => Some(true),
            "offline" => Some(false),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sssctl_is_run_by_absolute_path_only() {
        assert!(SSSCTL_PATHS.iter().all(|p| std::path::Path::new(p).is_absolute()));
    }

    #[test]
    fn sssctl_output() {
        assert_eq!(parse_sssctl_online("Online status: Online\n"), Some(true));
        assert_eq!(parse_sssctl_online("Online status: Offline\n"), Some(false));
        assert_eq!(parse_sssctl_online("Unable to get online status\n"), None);
        assert_eq!(parse_sssctl_online(""), None);
    }

    #[test]
    fn gathers_within_the_budget_with_probe_hosts() {
        // A fake resolver: no DNS traffic leaves the machine from tests.
        fn fake(host: &str) -> bool {
            if host == "slow.example" {
                std::thread::sleep(Duration::from_secs(5));
            }
            host == "intranet.corp.example" || host == "slow.example"
        }
        let probe = NetworkProbe::new("/nonexistent-root")
            .with_budget(Duration::from_millis(300))
            .with_resolver(fake);
        let start = Instant::now();
        let hosts: Vec<String> = ["intranet.corp.example", "www.example", "slow.example"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let facts = probe.gather(None, &hosts);
        assert!(start.elapsed() < Duration::from_millis(1000), "{:?}", start.elapsed());
        let got: Vec<_> =
            facts.resolved_hosts.iter().map(|h| (h.host.as_str(), h.resolved)).collect();
        assert_eq!(
            got,
            vec![("intranet.corp.example", true), ("www.example", false), ("slow.example", false)]
        );
        assert_eq!(facts.domain_controllers_discoverable, None, "not joined: not asked");
        assert_eq!(facts.sssd_online, None);
        assert!(facts.addresses.iter().all(|a| a != "127.0.0.1" && a != "::1"));
    }

    #[test]
    fn localhost_resolves_through_the_system() {
        // /etc/hosts answers this one (nsswitch `files` first): no DNS query is sent.
        assert!(system_resolves("localhost"));
    }

    #[test]
    fn joined_identity_asks_the_configured_servers_for_the_srv_record() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let responder = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = server.recv_from(&mut buf).unwrap();
            let mut reply = buf[..n].to_vec();
            reply[2] |= 0x80;
            reply[3] = 0x83; // NXDOMAIN
            server.send_to(&reply, from).unwrap();
            String::from_utf8_lossy(&buf[12..n]).into_owned()
        });
        let identity =
            Identity { joined: true, domain: Some("corp.example".into()), ..Identity::default() };
        let facts = NetworkProbe::new("/nonexistent-root")
            .with_nameservers(vec![addr])
            .gather(Some(&identity), &[]);
        assert_eq!(facts.domain_controllers_discoverable, Some(false));
        let question = responder.join().unwrap();
        assert!(question.contains("_msdcs") && question.contains("corp"), "{question:?}");
    }
}
