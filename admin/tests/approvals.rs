//! `gatehouse keygen` → `approve` (flags and a block-page request file) → `inspect` → `revoke`, the real binary end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gatehouse_admin::approve::decode_unverified;
use serde_json::{json, Value};

const CLI: &str = env!("CARGO_BIN_EXE_gatehouse");

/// Runs `gatehouse` in `dir`.
fn gatehouse(dir: &Path, args: &[&str]) -> Output {
    Command::new(CLI).current_dir(dir).args(args).output().expect("run gatehouse")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn ok(out: Output) -> Output {
    assert!(out.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    out
}

#[track_caller]
fn fails(out: Output) -> Output {
    assert_eq!(out.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    out
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

fn claims(token: &str) -> Value {
    decode_unverified(token).claims.expect("token claims decode")
}

/// A department with one approver key (`dept-1` unless told otherwise), and its policy.
struct Dept {
    dir: tempfile::TempDir,
    public: Value,
}

impl Dept {
    fn new() -> Self {
        Self::with_kid("dept-1")
    }

    fn with_kid(kid: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = ok(gatehouse(dir.path(), &["keygen", "--kid", kid]));
        let public: Value = serde_json::from_str(stdout(&out).trim()).expect("keygen prints a JWK");
        Dept { dir, public }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn policy(&self, name: &str, revoked: &[&str]) -> String {
        let policy =
            json!({"approvals": {"keys": [self.public], "revoked": revoked, "maxDays": 90}});
        write_json(self.path(), name, &policy).to_str().unwrap().to_owned()
    }

    fn run(&self, args: &[&str]) -> Output {
        gatehouse(self.path(), args)
    }
}

#[test]
fn keygen_writes_an_owner_only_private_jwk_and_prints_the_public_one() {
    let dept = Dept::new();
    assert_eq!(dept.public["kty"], "OKP");
    assert_eq!(dept.public["crv"], "Ed25519");
    assert_eq!(dept.public["kid"], "dept-1");
    assert!(dept.public.get("d").is_none(), "the printed key must be public only");
    let file = dept.path().join("dept-1.private.jwk");
    let private: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(private["x"], dept.public["x"]);
    assert!(private["d"].as_str().is_some_and(|d| d.len() == 43));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Never overwritten; a second key with --out is a different key.
    let again = fails(dept.run(&["keygen", "--kid", "dept-1"]));
    assert!(stderr(&again).contains("refusing to overwrite"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        serde_json::to_string_pretty(&private).unwrap() + "\n"
    );
    let other = ok(dept.run(&["keygen", "--kid", "dept-2", "--out", "second.jwk"]));
    let other: Value = serde_json::from_str(stdout(&other).trim()).unwrap();
    assert_ne!(other["x"], dept.public["x"]);
    assert!(fails(dept.run(&["keygen", "--kid", "no spaces"]))
        .stderr
        .starts_with(b"gatehouse: error: key id"));
}

#[test]
fn approve_inspect_and_every_rejection_through_the_binary() {
    let dept = Dept::new();
    let policy = dept.policy("policy.json", &[]);

    // From flags, printed.
    let out = ok(dept.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--user",
        "alice@corp.example",
        "--service",
        "gmail",
        "--days",
        "30",
        "--purpose",
        "liaison with the overseas office",
        "--approver",
        "Director Chan",
        "--policy",
        &policy,
    ]));
    let token = stdout(&out).trim().to_owned();
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let c = claims(&token);
    assert_eq!(c["iss"], "dept-1");
    assert_eq!(c["sub"], "alice@corp.example");
    assert_eq!(c["services"], json!(["gmail"]));
    assert_eq!(c["approver"], "Director Chan");
    assert_eq!(c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(), 30 * 86_400);
    assert!(c.get("machine").is_none());
    let jti = c["jti"].as_str().unwrap().to_owned();
    assert!(stderr(&out).contains(&format!("gatehouse revoke {jti}")));

    let valid = ok(dept.run(&["inspect", &token, "--policy", &policy]));
    assert!(
        stdout(&valid).contains("Verdict: VALID: approves gmail for alice@corp.example"),
        "{}",
        stdout(&valid)
    );
    let covered = ok(dept.run(&[
        "inspect",
        &token,
        "--policy",
        &policy,
        "--url",
        "https://mail.google.com/mail/u/0/",
    ]));
    assert!(stdout(&covered).contains("the token covers it"), "{}", stdout(&covered));

    // Each way to fail, with its own reason code in inspect's output and a non-zero exit.
    let (hp, sig) = token.rsplit_once('.').unwrap();
    let (h, _) = hp.split_once('.').unwrap();
    let mut edited = c.clone();
    edited["services"] = json!(["gmail", "dropbox"]);
    let payload = base64_url(&serde_json::to_vec(&edited).unwrap());
    let tampered = format!("{h}.{payload}.{sig}");
    let revoked_policy = dept.policy("revoked.json", &[&jti]);
    let stranger = Dept::with_kid("dept-9");
    let stranger_policy = stranger.policy("stranger.json", &[]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![&tampered, "--policy", &policy], "bad_signature"),
        (vec![&token, "--policy", &policy, "--user", "bob@corp.example"], "other_user"),
        (vec![&token, "--policy", &policy, "--now", "2099-01-01T00:00:00Z"], "expired"),
        (vec![&token, "--policy", &revoked_policy], "revoked"),
        (vec![&token, "--policy", &stranger_policy], "unknown_key"),
        (vec![&token], "unknown_key"),
        (
            vec![&token, "--policy", &policy, "--url", "https://www.dropbox.com/home"],
            "service_not_covered",
        ),
        (vec!["not.a.token", "--policy", &policy], "malformed"),
    ];
    for (args, code) in &cases {
        let mut full = vec!["inspect"];
        full.extend(args);
        let out = fails(dept.run(&full));
        let text = stdout(&out);
        assert!(text.contains(&format!("Verdict: REJECTED [{code}]")), "{code}:\n{text}");
        assert!(text.contains("  fix: "), "{code} comes with a fix:\n{text}");
        assert!(stderr(&out).contains(&format!("token rejected ({code})")), "{}", stderr(&out));
    }
    assert_eq!(cases.len(), 8);
    // What a tampered token claims is still shown, marked unverified.
    let out = fails(dept.run(&["inspect", &tampered, "--policy", &policy]));
    assert!(stdout(&out).contains("NOT verified") && stdout(&out).contains("gmail, dropbox"));

    // The JSON form, for scripts.
    let out = fails(dept.run(&[
        "inspect",
        &token,
        "--policy",
        &policy,
        "--user",
        "bob@corp.example",
        "--json",
    ]));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["code"], "other_user");
    assert_eq!(report["decoded"]["claims"]["jti"], jti.as_str());
    assert_eq!(report["checkedFor"]["user"], "bob@corp.example");
}

#[test]
fn approve_from_a_block_page_request_file() {
    let dept = Dept::new();
    let policy = dept.policy("policy.json", &[]);
    // Exactly what the block page saves (extension/background.js `block.request`).
    let request = write_json(
        dept.path(),
        "gatehouse-request-6f1c.json",
        &json!({
            "requestId": "6f1c2a9e-0b1d-4e4f-8a55-0c7d1e2f3a4b",
            "user": "alice",
            "principal": "alice@corp.example",
            "machine": "WS01",
            "service": "dropbox",
            "category": "cloud_storage",
            "origin": "https://www.dropbox.com",
            "justification": "Receive tender documents from the contractor",
            "days": 14,
            "createdMs": 1_800_000_000_000_i64,
        }),
    );
    let request = request.to_str().unwrap();
    let out = ok(dept.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--request",
        request,
        "--out",
        "alice.jws",
    ]));
    assert!(stdout(&out).is_empty(), "the token went to the file");
    assert!(
        stderr(&out).contains("request 6f1c2a9e-0b1d-4e4f-8a55-0c7d1e2f3a4b from alice@corp.example on WS01 for dropbox (https://www.dropbox.com), 14 day(s), made 2027-01-15T08:00:00.000Z"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("wrote the token to alice.jws"), "{}", stderr(&out));
    let token = std::fs::read_to_string(dept.path().join("alice.jws")).unwrap();
    let c = claims(token.trim());
    assert_eq!(c["sub"], "alice@corp.example");
    assert_eq!(c["machine"], "WS01");
    assert_eq!(c["services"], json!(["dropbox"]));
    assert!(c.get("categories").is_none());
    assert_eq!(c["purpose"], "Receive tender documents from the contractor");
    assert_eq!(c["req"], "6f1c2a9e-0b1d-4e4f-8a55-0c7d1e2f3a4b");
    assert_eq!(c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(), 14 * 86_400);

    // Inspected from the file; bound to WS01, so another machine is refused.
    let out = ok(dept.run(&[
        "inspect",
        "alice.jws",
        "--policy",
        &policy,
        "--url",
        "https://www.dropbox.com/",
    ]));
    assert!(stdout(&out).contains("on WS01 (from the token)"), "{}", stdout(&out));
    let out = fails(dept.run(&["inspect", "alice.jws", "--policy", &policy, "--machine", "WS02"]));
    assert!(stdout(&out).contains("[other_machine]"), "{}", stdout(&out));
    // The same file is never overwritten.
    let again = fails(dept.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--request",
        request,
        "--out",
        "alice.jws",
    ]));
    assert!(stderr(&again).contains("refusing to overwrite"));

    // Flags override the request: the whole category, fewer days, any machine.
    let out = ok(dept.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--request",
        request,
        "--category",
        "cloud_storage",
        "--days",
        "7",
        "--any-machine",
    ]));
    let c = claims(stdout(&out).trim());
    assert_eq!(
        (c["categories"].clone(), c.get("services"), c.get("machine")),
        (json!(["cloud_storage"]), None, None)
    );

    // A request for longer than the cap says how to fix it.
    let long = write_json(
        dept.path(),
        "long.json",
        &json!({"requestId": "r2", "principal": "alice@corp.example", "machine": "WS01",
        "service": "gmail", "justification": "a long project abroad", "days": 120}),
    );
    let out = fails(dept.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--request",
        long.to_str().unwrap(),
        "--policy",
        &policy,
    ]));
    assert!(
        stderr(&out).contains("120 days is longer than the 90-day maximum"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--days"), "{}", stderr(&out));

    // No principal: the account name, with a clear note.
    let bare = write_json(
        dept.path(),
        "bare.json",
        &json!({"requestId": "r3", "user": "alice", "principal": null,
        "machine": "WS01", "service": "gmail", "category": "webmail", "justification": "liaison work", "days": 3}),
    );
    let out = ok(dept.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--request",
        bare.to_str().unwrap(),
    ]));
    assert!(stderr(&out).contains("the request has no principal"), "{}", stderr(&out));
    assert_eq!(claims(stdout(&out).trim())["sub"], "alice");
}

#[test]
fn approve_refuses_what_it_cannot_issue() {
    let dept = Dept::new();
    let policy = dept.policy("policy.json", &[]);
    let key = ["approve", "--key", "dept-1.private.jwk"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--user", "a@b.example", "--service", "gmial", "--days", "1", "--purpose", "p"],
            "did you mean \"gmail\"?",
        ),
        (
            vec!["--user", "a@b.example", "--category", "social", "--days", "1", "--purpose", "p"],
            "unknown category",
        ),
        (vec!["--user", "a@b.example", "--service", "gmail", "--days", "1"], "--purpose"),
        (
            vec!["--user", "a@b.example", "--service", "gmail", "--purpose", "p"],
            "--days N or --until",
        ),
        (
            vec!["--user", "a@b.example", "--days", "1", "--purpose", "p"],
            "--service ID or --category ID",
        ),
        (
            vec!["--user", "a@b.example", "--service", "gmail", "--days", "184", "--purpose", "p"],
            "183-day maximum",
        ),
        (
            vec![
                "--user",
                "a@b.example",
                "--service",
                "gmail",
                "--until",
                "2001-01-01",
                "--purpose",
                "p",
            ],
            "not in the future",
        ),
        (
            vec![
                "--user",
                "a@b.example",
                "--service",
                "gmail",
                "--until",
                "soon",
                "--purpose",
                "p",
            ],
            "RFC 3339",
        ),
        (
            vec![
                "--user",
                "a@b.example",
                "--service",
                "gmail",
                "--days",
                "1",
                "--purpose",
                "p",
                "--policy",
                &policy,
                "--max-days",
                "100",
            ],
            "exceeds the policy's approvals.maxDays 90",
        ),
        (
            vec![
                "--user",
                "a@b.example",
                "--service",
                "gmail",
                "--days",
                "1",
                "--purpose",
                "p",
                "--request",
                "missing.json",
            ],
            "cannot open the request file",
        ),
    ];
    for (args, needle) in &cases {
        let mut full = key.to_vec();
        full.extend(args);
        let out = fails(dept.run(&full));
        assert!(stdout(&out).is_empty(), "no token on failure");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(cases.len(), 10);

    // A public key is not a signing key.
    std::fs::write(dept.path().join("public.jwk"), dept.public.to_string()).unwrap();
    let out = fails(dept.run(&[
        "approve",
        "--key",
        "public.jwk",
        "--user",
        "a@b.example",
        "--service",
        "gmail",
        "--days",
        "1",
        "--purpose",
        "p",
    ]));
    assert!(stderr(&out).contains("this is a public key"), "{}", stderr(&out));
    // Signing with a key the policy does not trust warns, with the reason code.
    let stranger = Dept::new();
    let out = ok(stranger.run(&[
        "approve",
        "--key",
        "dept-1.private.jwk",
        "--user",
        "a@b.example",
        "--service",
        "gmail",
        "--days",
        "1",
        "--purpose",
        "p",
        "--policy",
        &policy,
    ]));
    assert!(stderr(&out).contains("would reject this token [bad_signature]"), "{}", stderr(&out));
    // Neither --user nor --request is a usage error.
    assert_eq!(
        dept.run(&["approve", "--key", "dept-1.private.jwk", "--service", "gmail"]).status.code(),
        Some(2)
    );
}

#[test]
fn revoke_prints_the_merged_policy_fragment() {
    let dept = Dept::new();
    let policy = dept.policy("policy.json", &["old-2", "old-1"]);
    let out = ok(dept.run(&["revoke", "new-1", "old-1", "--policy", &policy]));
    let fragment: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(fragment, json!({"approvals": {"revoked": ["new-1", "old-1", "old-2"]}}));
    let out = ok(dept.run(&["revoke", "b", "a", "b"]));
    let fragment: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(fragment, json!({"approvals": {"revoked": ["a", "b"]}}));
    assert!(stderr(&fails(dept.run(&["revoke", "has space"]))).contains("not a token id"));
    assert_eq!(dept.run(&["revoke"]).status.code(), Some(2));
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Issue 9, finding 7: the request file is the user's own work. Deleting `service` (leaving the
/// category) or `machine` from it must not quietly widen what the approver signs.
#[test]
fn approve_refuses_a_request_without_service_or_machine_unless_the_approver_widens_it() {
    let dept = Dept::new();
    let full = json!({
        "requestId": "edited-1", "user": "alice", "principal": "alice@corp.example",
        "machine": "WS01", "service": "dropbox", "category": "cloud_storage",
        "origin": "https://www.dropbox.com", "justification": "tender documents", "days": 7,
    });
    let edited = |drop: &[&str]| {
        let mut request = full.clone();
        for field in drop {
            request.as_object_mut().unwrap().remove(*field);
        }
        let name = format!("edited-{}.json", drop.join("-"));
        write_json(dept.path(), &name, &request).to_str().unwrap().to_owned()
    };
    let approve = |request: &str, flags: &[&str]| {
        let mut args = vec!["approve", "--key", "dept-1.private.jwk", "--request", request];
        args.extend_from_slice(flags);
        dept.run(&args)
    };

    // Refused, saying which field is missing and which flag decides it.
    let no_machine = edited(&["machine"]);
    let out = fails(approve(&no_machine, &[]));
    assert!(stderr(&out).contains("names no machine"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--machine NAME") && stderr(&out).contains("--any-machine"));
    assert!(stdout(&out).is_empty(), "no token is printed");
    let no_service = edited(&["service"]);
    let out = fails(approve(&no_service, &[]));
    assert!(stderr(&out).contains("names no service"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--service ID") && stderr(&out).contains("--whole-category"));
    let neither = edited(&["service", "machine"]);
    let out = fails(approve(&neither, &[]));
    assert!(stderr(&out).contains("names no service") && stderr(&out).contains("names no machine"));

    // The approver decides by flag: narrow (no warning) or wide (a warning in capitals).
    let out = ok(approve(&no_machine, &["--machine", "WS01"]));
    assert_eq!(claims(stdout(&out).trim())["machine"], "WS01");
    assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));
    let out = ok(approve(&no_service, &["--service", "dropbox"]));
    assert_eq!(claims(stdout(&out).trim())["services"], json!(["dropbox"]));
    assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));

    let out = ok(approve(&neither, &["--whole-category", "--any-machine"]));
    let c = claims(stdout(&out).trim());
    assert_eq!((c["categories"].clone(), c.get("machine")), (json!(["cloud_storage"]), None));
    let err = stderr(&out);
    assert!(err.contains("WARNING: THIS APPROVAL IS NOT BOUND TO A MACHINE"), "{err}");
    assert!(err.contains("WARNING: THIS APPROVAL COVERS EVERY SERVICE IN CLOUD_STORAGE"), "{err}");

    // --whole-category needs a category to widen to.
    let nothing = edited(&["service", "category"]);
    let out = fails(approve(&nothing, &["--whole-category"]));
    assert!(stderr(&out).contains("names no category"), "{}", stderr(&out));
}
