//! A minimal DNS client: one SRV question over UDP, enough to ask "are this domain's controllers discoverable?".
//!
//! A full resolver crate (hickory) would bring an async runtime into a host whose whole job is a
//! handful of cheap facts; the one question needed is ~100 lines of RFC 1035. Only whether an
//! answer exists is read, never its contents, so the parser only has to walk the question
//! section and count answers of type SRV.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;

/// The parts of `resolv.conf` the host reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines, in order (at most 3 are used, as libc does).
    pub nameservers: Vec<IpAddr>,
    /// `search` domains, or the `domain` line when there is no `search` (the last wins, as in libc).
    pub search: Vec<String>,
}

/// Parses `resolv.conf`. Unknown or malformed lines are skipped.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut out = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // Strip an IPv6 zone (`fe80::1%eth0`) that IpAddr does not parse.
                if let Some(Ok(ip)) = words.next().map(|w| w.split('%').next().unwrap_or(w).parse())
                {
                    if out.nameservers.len() < 3 {
                        out.nameservers.push(ip);
                    }
                }
            }
            Some("search") | Some("domain") => {
                out.search = words
                    .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect();
            }
            _ => {}
        }
    }
    out
}

/// What a server said about an SRV name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrvAnswer {
    /// At least this many SRV records.
    Found(u16),
    /// The name does not exist, or has no SRV records.
    NotFound,
}

/// Why a response could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsError {
    /// The name cannot be put in a DNS question.
    #[error("not a valid DNS name: {0}")]
    BadName(String),
    /// The response is not an answer to our question.
    #[error("response does not match the query")]
    Mismatch,
    /// The response is cut short or malformed.
    #[error("malformed response")]
    Malformed,
    /// The server failed (SERVFAIL, REFUSED, …): no evidence either way.
    #[error("server error, rcode {0}")]
    ServerError(u8),
}

/// Builds a recursive query for the SRV records of `name`.
///
/// # Errors
/// [`DnsError::BadName`] for an empty label, a label over 63 bytes or a name over 253.
pub fn build_srv_query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName(name.to_owned()));
    }
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend(id.to_be_bytes());
    q.extend([0x01, 0x00]); // RD
    q.extend([0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT 1
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::BadName(name.to_owned()));
        }
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.push(0);
    q.extend(TYPE_SRV.to_be_bytes());
    q.extend(CLASS_IN.to_be_bytes());
    Ok(q)
}

/// Reads a response to the query with `id`.
///
/// # Errors
/// [`DnsError`] when the response is for another query, malformed, or a server failure.
pub fn parse_srv_response(id: u16, msg: &[u8]) -> Result<SrvAnswer, DnsError> {
    if msg.len() < 12 {
        return Err(DnsError::Malformed);
    }
    if u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Err(DnsError::Mismatch);
    }
    match msg[3] & 0x0f {
        0 => {}
        3 => return Ok(SrvAnswer::NotFound), // NXDOMAIN
        rcode => return Err(DnsError::ServerError(rcode)),
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = skip_name(msg, pos)?.checked_add(4).ok_or(DnsError::Malformed)?;
    }
    let mut srv = 0u16;
    for _ in 0..ancount {
        pos = skip_name(msg, pos)?;
        let rr = msg.get(pos..pos + 10).ok_or(DnsError::Malformed)?;
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
        pos += 10 + rdlen;
        if pos > msg.len() {
            // A truncated (TC) response may end mid-record; what was counted still stands.
            break;
        }
        if rtype == TYPE_SRV {
            srv += 1;
        }
    }
    Ok(if srv > 0 { SrvAnswer::Found(srv) } else { SrvAnswer::NotFound })
}

/// Skips an encoded name (labels, ending in a zero byte or a compression pointer).
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, DnsError> {
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Malformed)?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xc0 == 0xc0 => return Ok(pos + 2),
            l if l & 0xc0 != 0 => return Err(DnsError::Malformed),
            l => pos += 1 + usize::from(l),
        }
    }
}

/// Asks every server at once whether `name` has SRV records; the first usable answer wins.
/// `None` when no server gave a usable answer within `timeout` (no evidence either way).
/// A server that refuses the query outright (nothing listens on its port 53, e.g. the domain
/// controller that served DNS is down) cannot point at any controller: when every server
/// refuses, the controllers are not discoverable from here, `Some(false)`.
pub fn srv_exists(servers: &[SocketAddr], name: &str, timeout: Duration) -> Option<bool> {
    if servers.is_empty() {
        return None;
    }
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    for &server in servers {
        let tx = tx.clone();
        let name = name.to_owned();
        std::thread::spawn(move || {
            let answer = ask_one(server, &name, deadline);
            let _ = tx.send(answer);
        });
    }
    drop(tx);
    let mut refused = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(SrvAnswer::Found(_))) => return Some(true),
            Ok(Ok(SrvAnswer::NotFound)) => return Some(false),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                refused += 1;
                if refused == servers.len() {
                    return Some(false);
                }
            }
            Ok(Err(_)) => continue,
            Err(_) => return None,
        }
    }
}

fn ask_one(server: SocketAddr, name: &str, deadline: Instant) -> Result<SrvAnswer, io::Error> {
    let bind: SocketAddr =
        if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(bind)?;
    socket.connect(server)?;
    let id = query_id();
    let query =
        build_srv_query(id, name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    socket.send(&query)?;
    let mut buf = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        socket.set_read_timeout(Some(left))?;
        let n = socket.recv(&mut buf)?;
        match parse_srv_response(id, &buf[..n]) {
            Ok(answer) => return Ok(answer),
            // A stray or spoofed datagram: keep waiting for ours.
            Err(DnsError::Mismatch) => continue,
            Err(e) => return Err(io::Error::other(e)),
        }
    }
}

/// A query id that differs between queries and processes (not cryptographic: the answer only
/// ever adds a hint, which the policy weighs).
fn query_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos as u16) ^ (std::process::id() as u16) ^ COUNTER.fetch_add(0x9e37, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `query` with `answers` SRV records (compressed owner names) and `rcode`.
    pub(crate) fn response(query: &[u8], answers: u16, rcode: u8) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] |= 0x80;
        r[3] = 0x80 | rcode;
        r[6..8].copy_from_slice(&answers.to_be_bytes());
        for i in 0..answers {
            r.extend([0xc0, 12]); // pointer to the question name
            r.extend(TYPE_SRV.to_be_bytes());
            r.extend(CLASS_IN.to_be_bytes());
            r.extend(600u32.to_be_bytes());
            let target = b"\x04dc01\x04corp\x07example\x00";
            r.extend(((6 + target.len()) as u16).to_be_bytes());
            r.extend([0, 0, 0, 100, 1, 133 + i as u8]); // priority, weight, port 389
            r.extend(target);
        }
        r
    }

    #[test]
    fn resolv_conf() {
        let rc = parse_resolv_conf(
            "# generated\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\n\
             domain old.example\nsearch Corp.Example. branch.corp.example ; comment\n\
             nameserver 10.0.0.54\nnameserver 10.0.0.55\noptions ndots:2\n",
        );
        assert_eq!(rc.nameservers.len(), 3);
        assert_eq!(rc.nameservers[0].to_string(), "10.0.0.53");
        assert_eq!(rc.nameservers[1].to_string(), "fe80::1");
        assert_eq!(rc.search, vec!["corp.example", "branch.corp.example"]);
        assert_eq!(parse_resolv_conf("domain corp.example\n").search, vec!["corp.example"]);
        assert_eq!(parse_resolv_conf("").search, Vec::<String>::new());
    }

    #[test]
    fn query_encoding() {
        let q = build_srv_query(0x1234, "_ldap._tcp.dc._msdcs.corp.example").unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..18], b"\x05_ldap");
        assert_eq!(&q[q.len() - 5..], &[0, 0, 33, 0, 1]);
        assert!(build_srv_query(1, "a..b").is_err());
        assert!(build_srv_query(1, "").is_err());
        assert!(build_srv_query(1, &"x".repeat(64)).is_err());
    }

    #[test]
    fn response_parsing() {
        let q = build_srv_query(7, "_ldap._tcp.dc._msdcs.corp.example").unwrap();
        assert_eq!(parse_srv_response(7, &response(&q, 2, 0)), Ok(SrvAnswer::Found(2)));
        assert_eq!(parse_srv_response(7, &response(&q, 0, 0)), Ok(SrvAnswer::NotFound));
        assert_eq!(parse_srv_response(7, &response(&q, 0, 3)), Ok(SrvAnswer::NotFound));
        assert_eq!(parse_srv_response(7, &response(&q, 0, 2)), Err(DnsError::ServerError(2)));
        assert_eq!(parse_srv_response(8, &response(&q, 1, 0)), Err(DnsError::Mismatch));
        assert_eq!(parse_srv_response(7, &q), Err(DnsError::Mismatch), "a query is not a response");
        let full = response(&q, 1, 0);
        for cut in 0..full.len() {
            // Never a panic on a cut-short response.
            let _ = parse_srv_response(7, &full[..cut]);
        }
    }

    #[test]
    fn asks_a_loopback_server() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for answers in [1u16, 0] {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                // A stray datagram with the wrong id first: it must be ignored.
                let mut stray = response(&buf[..n], 1, 0);
                stray[0] ^= 0xff;
                server.send_to(&stray, from).unwrap();
                server.send_to(&response(&buf[..n], answers, 0), from).unwrap();
            }
        });
        let name = "_ldap._tcp.dc._msdcs.corp.example";
        assert_eq!(srv_exists(&[addr], name, Duration::from_secs(2)), Some(true));
        assert_eq!(srv_exists(&[addr], name, Duration::from_secs(2)), Some(false));
        handle.join().unwrap();
    }

    #[test]
    fn silent_server_times_out_as_unknown() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        let got =
            srv_exists(&[server.local_addr().unwrap()], "a.example", Duration::from_millis(150));
        assert_eq!(got, None);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(srv_exists(&[], "a.example", Duration::from_millis(10)), None);
    }

    #[test]
    fn refused_by_every_server_is_not_discoverable() {
        // A port nothing listens on: the kernel answers with ICMP port unreachable.
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let timeout = Duration::from_millis(300);
        assert_eq!(srv_exists(&[closed], "a.example", timeout), Some(false));
        assert_eq!(srv_exists(&[closed, closed], "a.example", timeout), Some(false));
        // One server might still answer: no evidence either way.
        assert_eq!(srv_exists(&[closed, silent.local_addr().unwrap()], "a.example", timeout), None);
    }
}
