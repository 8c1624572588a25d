//! The desktop host carries no signing code: no signing dependency, no admin crate, no `SigningKey` in its sources (issue 10, item 4).
//!
//! Issuing approvals is the administrators' business (`gatehouse-admin`, `admin/`); the binary on
//! every desktop only stores, lists and forwards tokens, and `gatehouse-core` verifies them. A
//! desktop that could sign could mint its own approvals with a stolen key file, so the split is
//! a property worth a test, not a convention. `cargo xtask build` also checks the built binary.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What only the signing side names.
const SIGNING: [&str; 6] =
    ["SigningKey", "Signer", "ed25519_dalek", "getrandom", "gatehouse_admin", "approve::"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_host_s_sources_name_no_signing_code() {
    let mut files = Vec::new();
    for dir in ["src", "benches"] {
        rust_files(&crate_dir().join(dir), &mut files);
    }
    // Guard: the walk found the host's modules (lib, main, host, protocol, approvals, …).
    assert!(files.len() >= 15, "only {} source files found", files.len());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for word in SIGNING {
            assert!(!text.contains(word), "{} names {word:?}", file.display());
        }
    }
}

#[test]
fn the_host_depends_on_nothing_that_signs() {
    let manifest = std::fs::read_to_string(crate_dir().join("Cargo.toml")).unwrap();
    // Every dependency table, for every target; dev-dependencies are the tests' own.
    let mut section = String::new();
    let mut checked = 0;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let dependency = section.ends_with("dependencies]") && !section.contains("dev-");
        let Some((name, _)) = line.split_once('=').filter(|_| dependency) else { continue };
        let name = name.trim();
        if name.is_empty() || name.starts_with('#') || name.starts_with('"') {
            continue;
        }
        checked += 1;
        for forbidden in ["ed25519-dalek", "getrandom", "gatehouse-admin"] {
            assert_ne!(name, forbidden, "gatehouse-host depends on {forbidden} ({section})");
        }
    }
    // Guard: the parse saw the dependency list (gatehouse-core, serde, …).
    assert!(checked >= 10, "only {checked} dependencies read from Cargo.toml");
}
