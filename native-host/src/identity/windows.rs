//! The Windows identity reader: `NetGetJoinInformation`, `GetComputerNameExW`, `GetUserNameExW`.
//!
//! Compile-checked on Linux with `cargo check --target x86_64-pc-windows-msvc`; it has not run on
//! a Windows machine in this repository's CI.

use std::ptr;

use windows_sys::core::PWSTR;
use windows_sys::Win32::NetworkManagement::NetManagement::{
    NetApiBufferFree, NetGetJoinInformation, NetSetupDomainName, NETSETUP_JOIN_STATUS,
};
use windows_sys::Win32::Security::Authentication::Identity::{
    GetUserNameExW, NameSamCompatible, NameUserPrincipal, EXTENDED_NAME_FORMAT,
};
use windows_sys::Win32::System::SystemInformation::{
    ComputerNameDnsDomain, ComputerNameDnsFullyQualified, ComputerNameNetBIOS, GetComputerNameExW,
    COMPUTER_NAME_FORMAT,
};

use super::{Identity, IdentityError, IdentitySource};

/// Reads the identity through the Win32 API.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowsReader;

impl IdentitySource for WindowsReader {
    fn read(&self) -> Result<Identity, IdentityError> {
        let (joined, netbios_domain) = join_information()?;
        let machine = computer_name(ComputerNameNetBIOS).unwrap_or_default();
        let fqdn = computer_name(ComputerNameDnsFullyQualified)
            .filter(|f| f.contains('.'))
            .map(|f| f.to_ascii_lowercase());
        let dns_domain = computer_name(ComputerNameDnsDomain)
            .filter(|d| !d.is_empty())
            .map(|d| d.to_ascii_lowercase());
        // `CORP\alice` for a domain account, `WS01\alice` for a local one.
        let sam = user_name(NameSamCompatible);
        // Never `%USERNAME%`: the user sets that (issue 9, finding 8).
        let user = sam
            .as_deref()
            .map(|s| s.rsplit('\\').next().unwrap_or(s).to_owned())
            .unwrap_or_default();
        let principal = if joined {
            // The UPN exists only for directory accounts; a local account on a joined machine
            // has a SAM name prefixed with the machine name, which is no directory principal.
            user_name(NameUserPrincipal).or_else(|| {
                sam.filter(|s| {
                    netbios_domain.as_deref().is_some_and(|d| {
                        s.split('\\').next().is_some_and(|p| p.eq_ignore_ascii_case(d))
                    })
                })
            })
        } else {
            None
        };
        Ok(Identity {
            user,
            principal,
            machine,
            fqdn,
            joined,
            domain: if joined {
                dns_domain.or(netbios_domain.map(|d| d.to_ascii_lowercase()))
            } else {
                None
            },
            source: "NetGetJoinInformation".into(),
        })
    }
}

/// Whether the machine is joined to a domain, and the domain's NetBIOS name.
fn join_information() -> Result<(bool, Option<String>), IdentityError> {
    let mut name: PWSTR = ptr::null_mut();
    let mut status: NETSETUP_JOIN_STATUS = 0;
    // SAFETY: both out-pointers are valid; on success `name` is a NetApi buffer we free below.
    let rc = unsafe { NetGetJoinInformation(ptr::null(), &mut name, &mut status) };
    if rc != 0 {
        return Err(IdentityError::Os { call: "NetGetJoinInformation", code: rc });
    }
    // SAFETY: `name` is a NUL-terminated wide string allocated by NetGetJoinInformation.
    let text = unsafe { wide_ptr_to_string(name) };
    if !name.is_null() {
        // SAFETY: freeing the buffer NetGetJoinInformation allocated, exactly once.
        unsafe { NetApiBufferFree(name.cast()) };
    }
    let joined = status == NetSetupDomainName;
    Ok((joined, text.filter(|_| joined)))
}

fn computer_name(format: COMPUTER_NAME_FORMAT) -> Option<String> {
    let mut len: u32 = 0;
    // SAFETY: a null buffer with size 0 asks for the required size (the call fails with
    // ERROR_MORE_DATA and sets `len`).
    unsafe { GetComputerNameExW(format, ptr::null_mut(), &mut len) };
    if len == 0 || len > 4096 {
        return None;
    }
    let mut buf = vec![0u16; len as usize];
    // SAFETY: `buf` holds `len` wide characters.
    let ok = unsafe { GetComputerNameExW(format, buf.as_mut_ptr(), &mut len) };
    if ok == 0 {
        return None;
    }
    buf.truncate(len as usize);
    String::from_utf16(&buf).ok()
}

fn user_name(format: EXTENDED_NAME_FORMAT) -> Option<String> {
    let mut len: u32 = 0;
    // SAFETY: as for `computer_name`: a size query.
    unsafe { GetUserNameExW(format, ptr::null_mut(), &mut len) };
    if len == 0 || len > 4096 {
        return None;
    }
    let mut buf = vec![0u16; len as usize];
    // SAFETY: `buf` holds `len` wide characters.
    let ok = unsafe { GetUserNameExW(format, buf.as_mut_ptr(), &mut len) };
    if !ok {
        return None;
    }
    buf.truncate(len as usize);
    String::from_utf16(&buf).ok().filter(|s| !s.is_empty())
}

/// Copies a NUL-terminated wide string.
///
/// # Safety
/// `p` must be null or point at a NUL-terminated UTF-16 string.
pub(crate) unsafe fn wide_ptr_to_string(p: *const u16) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let mut len = 0usize;
    // SAFETY: the caller guarantees a terminating NUL; we stop at it (and at a sanity cap).
    while len < 32_768 && unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` characters before the NUL are readable.
    let slice = unsafe { std::slice::from_raw_parts(p, len) };
    String::from_utf16(slice).ok().filter(|s| !s.is_empty())
}
