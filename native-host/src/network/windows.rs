//! Windows network facts: per-connection DNS suffixes (`GetAdaptersAddresses`), the primary DNS suffix, SRV lookups (`DnsQuery_W`).
//!
//! Compile-checked on Linux with `cargo check --target x86_64-pc-windows-msvc`.

use std::ptr;

use windows_sys::Win32::Foundation::{DNS_ERROR_RCODE_NAME_ERROR, ERROR_BUFFER_OVERFLOW};
use windows_sys::Win32::NetworkManagement::Dns::{
    DnsFree, DnsFreeRecordList, DnsQuery_W, DNS_QUERY_STANDARD, DNS_RECORDA, DNS_TYPE_SRV,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetAdaptersAddresses, GAA_FLAG_SKIP_ANYCAST, GAA_FLAG_SKIP_DNS_SERVER, GAA_FLAG_SKIP_MULTICAST,
    IP_ADAPTER_ADDRESSES_LH,
};
use windows_sys::Win32::NetworkManagement::Ndis::IfOperStatusUp;
use windows_sys::Win32::Networking::WinSock::AF_UNSPEC;
use windows_sys::Win32::System::SystemInformation::{ComputerNameDnsDomain, GetComputerNameExW};

use crate::identity::windows::wide_ptr_to_string;

/// The primary DNS suffix, then each up adapter's connection-specific suffix, lowercased, unique.
pub(super) fn dns_suffixes() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        let s = s.trim_end_matches('.').to_ascii_lowercase();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    if let Some(primary) = primary_dns_suffix() {
        push(primary);
    }
    let flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
    let mut size: u32 = 16 * 1024;
    for _ in 0..3 {
        // u64 elements keep the buffer aligned for IP_ADAPTER_ADDRESSES_LH.
        let mut buf = vec![0u64; (size as usize).div_ceil(8)];
        let first = buf.as_mut_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>();
        // SAFETY: `buf` is `size` bytes, suitably aligned; the API fills it with a linked list
        // whose nodes all live inside the buffer.
        let rc = unsafe {
            GetAdaptersAddresses(u32::from(AF_UNSPEC), flags, ptr::null(), first, &mut size)
        };
        if rc == ERROR_BUFFER_OVERFLOW {
            continue;
        }
        if rc != 0 {
            break;
        }
        let mut node = first;
        while !node.is_null() {
            // SAFETY: `node` is a list node inside `buf`, which is alive.
            let adapter = unsafe { &*node };
            if adapter.OperStatus == IfOperStatusUp {
                // SAFETY: DnsSuffix is a NUL-terminated wide string inside `buf` (or null).
                if let Some(suffix) = unsafe { wide_ptr_to_string(adapter.DnsSuffix) } {
                    push(suffix);
                }
            }
            node = adapter.Next;
        }
        break;
    }
    out
}

fn primary_dns_suffix() -> Option<String> {
    let mut buf = [0u16; 256];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` holds `len` wide characters.
    let ok = unsafe { GetComputerNameExW(ComputerNameDnsDomain, buf.as_mut_ptr(), &mut len) };
    if ok == 0 {
        return None;
    }
    String::from_utf16(buf.get(..len as usize)?).ok().filter(|s| !s.is_empty())
}

/// Whether `name` has SRV records, through the system resolver (which knows the per-connection
/// DNS servers). `None` on errors other than "no such name" / "no records".
pub(super) fn srv_exists(name: &str) -> Option<bool> {
    let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
    let mut results: *mut DNS_RECORDA = ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated; `results` receives a record list we free below.
    let rc = unsafe {
        DnsQuery_W(
            wide.as_ptr(),
            DNS_TYPE_SRV,
            DNS_QUERY_STANDARD,
            ptr::null_mut(),
            &mut results,
            ptr::null_mut(),
        )
    };
    let mut found = false;
    let mut node = results;
    while !node.is_null() {
        // SAFETY: a node of the list DnsQuery_W returned, freed only below.
        let record = unsafe { &*node };
        if record.wType == DNS_TYPE_SRV {
            found = true;
        }
        node = record.pNext;
    }
    if !results.is_null() {
        // SAFETY: freeing the list DnsQuery_W allocated, exactly once.
        unsafe { DnsFree(results.cast(), DnsFreeRecordList) };
    }
    const DNS_INFO_NO_RECORDS: u32 = 9501;
    match rc {
        0 => Some(found),
        DNS_ERROR_RCODE_NAME_ERROR | DNS_INFO_NO_RECORDS => Some(false),
        _ => None,
    }
}

/// Network Location Awareness: whether a connected network is `DomainAuthenticated` (Windows
/// reached a domain controller of the machine's domain over it). `None` when NLA cannot be asked.
pub(super) fn domain_authenticated() -> Option<bool> {
    use windows::Win32::Networking::NetworkListManager::{
        INetworkListManager, NetworkListManager, NLM_DOMAIN_TYPE_DOMAIN_AUTHENTICATED,
        NLM_ENUM_NETWORK_CONNECTED,
    };
    use windows::Win32::System::Com::{
        CoCreateInstance, CoInitializeEx, CoUninitialize, CLSCTX_ALL, COINIT_MULTITHREADED,
    };

    // SAFETY: called on a thread of our own (see `gather`), which joins the MTA here and leaves
    // it below, after every COM object created in between has been dropped.
    unsafe {
        if CoInitializeEx(None, COINIT_MULTITHREADED).is_err() {
            return None;
        }
        let answer = (|| -> windows::core::Result<bool> {
            let nlm: INetworkListManager = CoCreateInstance(&NetworkListManager, None, CLSCTX_ALL)?;
            let networks = nlm.GetNetworks(NLM_ENUM_NETWORK_CONNECTED)?;
            for _ in 0..64 {
                let mut slot = [None];
                let mut fetched = 0u32;
                networks.Next(&mut slot, Some(&mut fetched))?;
                let Some(network) = slot[0].take().filter(|_| fetched == 1) else {
                    return Ok(false);
                };
                if network.GetDomainType()? == NLM_DOMAIN_TYPE_DOMAIN_AUTHENTICATED {
                    return Ok(true);
                }
            }
            Ok(false)
        })();
        CoUninitialize();
        answer.ok()
    }
}
