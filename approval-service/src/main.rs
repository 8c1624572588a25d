//! `gatehouse-approval`: `init`, `serve`, `keys`, `backup`. Exit codes: 0 success, 1 failure
//! (the message on stderr says what to fix), 2 bad command-line arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use gatehouse_admin::approve::{self, ApproverKey};
#[cfg(unix)]
use gatehouse_approval::auth::Negotiate;
use gatehouse_approval::auth::{Approvers, Authenticate, Csrf, ProxyHeader};
use gatehouse_approval::config::{self, AuthConfig, Config, LogFormat, CONFIG_FILE, KEY_FILE};
use gatehouse_approval::desk::{load_key, Desk};
use gatehouse_approval::mail::Mailer;
use gatehouse_approval::server::{self, Access, App, Limits};
use gatehouse_approval::signin::Sessions;
use gatehouse_approval::store::Store;
use gatehouse_core::Policy;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse-approval",
    version,
    about = "Gatehouse approval desk: requests in, decisions and signed approvals out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory: configuration, signing key (owner-only), database.
    Init {
        /// The folder to create (or an empty existing one).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The address desktops and approvers use, e.g. https://desk.corp.example
        #[arg(long, value_name = "URL")]
        public_url: String,
        /// The signing key's id, named in every token and in the policy (A-Z a-z 0-9 . _ -).
        #[arg(long, default_value = "desk-1")]
        kid: String,
        /// A PostgreSQL URL instead of the embedded SQLite file.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// The department's Gatehouse policy file (managed-storage JSON).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Run the service.
    Serve {
        /// The configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the policy fragment with the desk's public keys (current and retired).
    Keys {
        /// The configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Copy the SQLite database to FILE while the service runs (PostgreSQL: use pg_dump).
    Backup {
        /// The configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// The new backup file (never overwritten).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse-approval: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Before any thread starts: GSS-API reads the keytab's location from the environment.
    if let Command::Serve { config } = &cli.command {
        if let Ok(Config { auth: Some(AuthConfig::Negotiate { keytab }), .. }) =
            Config::load(config)
        {
            std::env::set_var("KRB5_KTNAME", format!("FILE:{}", keytab.display()));
        }
        // The directory's Kerberos bind: the account's keys as initiator credentials, and its
        // tickets in this process's memory (never the invoking user's ticket cache).
        if let Ok(Config { directory: Some(d), .. }) = Config::load(config) {
            if let gatehouse_approval::directory::Bind::Gssapi { keytab } = &d.bind {
                std::env::set_var("KRB5_CLIENT_KTNAME", format!("FILE:{}", keytab.display()));
                std::env::set_var("KRB5CCNAME", "MEMORY:gatehouse-approval-directory");
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Init { data_dir, public_url, kid, database, policy } => runtime.block_on(init(
            &data_dir,
            &public_url,
            &kid,
            database.as_deref(),
            policy.as_deref(),
        )),
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            logging(config.log_format);
            runtime.block_on(serve(config))
        }
        Command::Keys { config } => {
            let config = Config::load(&config)?;
            let keys = public_keys(&config)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"approvals": {"keys": keys}}))?
            );
            Ok(())
        }
        Command::Backup { config, file } => {
            let config = Config::load(&config)?;
            runtime.block_on(async {
                let store = Store::open(&config.database).await?;
                store.backup(&file).await?;
                store.close().await;
                eprintln!("backed up {} to {}", config.database.describe(), file.display());
                anyhow::Ok(())
            })
        }
    }
}

fn logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn init(
    data_dir: &Path,
    public_url: &str,
    kid: &str,
    database: Option<&str>,
    policy: Option<&Path>,
) -> anyhow::Result<()> {
    approve::check_kid(kid)?;
    let config_path = data_dir.join(CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already exists; init never overwrites a desk: use another --data-dir",
            config_path.display()
        );
    }
    if let Some(p) = policy {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read --policy {}", p.display()))?;
        Policy::from_json(&text).with_context(|| format!("--policy {}", p.display()))?;
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let data_dir = data_dir.canonicalize()?;
    let text = config::template(&data_dir, public_url, database, policy);
    // Validate before writing anything else: a bad --public-url fails here.
    let config = Config::parse(&text, &config_path)?;
    let key = ApproverKey::generate(kid)?;
    approve::write_new_private(
        &data_dir.join(KEY_FILE),
        format!("{}\n", key.private_jwk()).as_bytes(),
    )?;
    std::fs::write(&config_path, text)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let store = Store::open(&config.database).await?;
    store.close().await;
    eprintln!(
        "created {} (configuration), {} (signing key, owner-only) and {}",
        config_path.display(),
        config.signing_key.display(),
        config.database.describe()
    );
    eprintln!("put these public keys into the department policy's approvals.keys:");
    println!("{}", serde_json::to_string_pretty(&approve::policy_fragment(&key.public_jwk()))?);
    Ok(())
}

fn load_policy(config: &Config) -> anyhow::Result<Policy> {
    let Some(path) = &config.policy else {
        tracing::warn!(
            "no policy configured: the built-in catalogue and the default cap on days apply"
        );
        return Ok(Policy::embedded_default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy {} (key `policy`)", path.display()))?;
    let parsed = Policy::from_json(&text)
        .with_context(|| format!("the policy {} (key `policy`)", path.display()))?;
    for w in &parsed.warnings {
        tracing::warn!(policy = %path.display(), at = %w.path, warning = %w.message, "policy warning");
    }
    Ok(parsed.policy)
}

fn public_keys(config: &Config) -> anyhow::Result<Vec<serde_json::Value>> {
    std::iter::once(&config.signing_key)
        .chain(&config.retired_keys)
        .map(|p| load_key(p).map(|k| k.public_jwk()))
        .collect()
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let key = load_key(&config.signing_key)?;
    let retired =
        config.retired_keys.iter().map(|p| load_key(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let policy = load_policy(&config)?;
    let store = Store::open(&config.database).await?;
    let limits = Limits {
        max_body_bytes: config.max_body_bytes,
        requests_per_hour: config.requests_per_hour,
    };
    let kid = key.kid().to_owned();
    let access = access(&config)?;
    let mailer = match &config.mail {
        Some(m) => Some(Mailer::new(m, &config.public_url)?),
        None => None,
    };
    let app = App::new(
        Desk::new(store.clone(), policy, key, retired),
        access,
        mailer,
        config.public_url.clone(),
        limits,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (key `listen`)", config.listen))?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, database = %config.database.describe(), kid = %kid, "serving");
    axum::serve(listener, server::router(app)).with_graceful_shutdown(shutdown()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn access(config: &Config) -> anyhow::Result<Access> {
    let auth: Option<Box<dyn Authenticate>> = match &config.auth {
        None => {
            tracing::warn!("no [auth]: the approvers' pages under /desk are off");
            None
        }
        #[cfg(unix)]
        Some(AuthConfig::Negotiate { keytab }) => {
            if approve::readable_by_others(keytab) {
                bail!("{} can be read by other users; make it owner-only (chmod 600 {}) (auth.keytab)", keytab.display(), keytab.display());
            }
            let negotiate = Negotiate::new().map_err(|e| {
                anyhow::anyhow!("auth.keytab {}: Kerberos cannot use it: {e}", keytab.display())
            })?;
            tracing::info!(keytab = %keytab.display(), "approvers sign in with Kerberos (SPNEGO)");
            Some(Box::new(negotiate))
        }
        #[cfg(not(unix))]
        Some(AuthConfig::Negotiate { .. }) => {
            bail!("auth.mode = \"negotiate\" is built for Linux only; on Windows put IIS with Windows Authentication in front and use mode = \"proxy\"")
        }
        Some(AuthConfig::Proxy { user_header, secret_file }) => {
            if approve::readable_by_others(secret_file) {
                bail!("{} can be read by other users; make it owner-only (chmod 600 {}) (auth.secret_file)", secret_file.display(), secret_file.display());
            }
            let secret = std::fs::read(secret_file).with_context(|| {
                format!("cannot read {} (auth.secret_file)", secret_file.display())
            })?;
            let proxy = ProxyHeader::new(user_header, &secret)
                .map_err(|e| anyhow::anyhow!("auth: {e} ({})", secret_file.display()))?;
            Some(Box::new(proxy))
        }
    };
    let directory = match &config.directory {
        None => None,
        Some(d) => {
            let directory = gatehouse_approval::directory::Directory::new(d.clone())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(url = %d.url, groups = d.groups_all.len() + d.groups_by_category.values().map(Vec::len).sum::<usize>(), "approvers also from AD groups");
            Some(directory)
        }
    };
    Ok(Access {
        auth,
        approvers: Approvers::new(&config.approvers_all, &config.approvers_by_category),
        directory,
        csrf: Csrf::new().map_err(|e| anyhow::anyhow!("the system random source failed: {e}"))?,
        sessions: if config.password_sign_in {
            tracing::info!("approvers may also sign in with their domain password (LDAP bind) at /desk/sign-in");
            Some(
                Sessions::new(config.public_url.starts_with("https://"))
                    .map_err(|e| anyhow::anyhow!("the system random source failed: {e}"))?,
            )
        } else {
            None
        },
        require_requester: config.require_requester,
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
