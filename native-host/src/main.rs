//! `gatehouse-host`: the native-messaging host Chrome and Edge launch; frames on stdin/stdout, diagnostics on stderr only.
//!
//! Exit codes: 0 when the browser closed the port at a frame boundary; 1 when the stream broke
//! (ended inside a frame, or a read or write failed). Chrome passes the caller's origin (and on
//! Windows a window handle) as arguments; they are ignored, since the manifest's
//! `allowed_origins` already limits who can start the host.

use std::io::{self, BufReader, BufWriter};
use std::process::ExitCode;

use gatehouse_host::host::{serve, Host, HostConfig};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse-host: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The product: the platform's readers and folders, whatever the environment says.
#[cfg(not(feature = "test-hooks"))]
fn config() -> HostConfig {
    HostConfig::system()
}

/// Test builds only: the `GATEHOUSE_*` overrides of `test_hooks`.
#[cfg(feature = "test-hooks")]
fn config() -> HostConfig {
    gatehouse_host::test_hooks::config_from_env()
}

fn run() -> anyhow::Result<()> {
    let host = Host::new(config());
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut input = BufReader::new(stdin.lock());
    // write_frame flushes after every frame, so buffering only merges the prefix and body writes.
    let mut output = BufWriter::new(stdout.lock());
    serve(&host, &mut input, &mut output)?;
    Ok(())
}
