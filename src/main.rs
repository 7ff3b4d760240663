//! The `meterd` command line: run the agent, validate a config, price a call by hand.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Exit code for a config that does not validate (as sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Parser, Debug)]
#[command(
    name = "meterd",
    version,
    about = "Sidecar agent: receives OTLP and StatsD from an AI app and exposes LLM cost, quality and budget metrics for Prometheus.",
    long_about = "meterd runs next to an app. It receives OTLP (gRPC :4317, HTTP :4318) and StatsD \
                  (UDP/TCP :8125), prices every model call from a YAML pricing table, tracks budgets, \
                  and serves /metrics, /healthz, /readyz and /api/v1/* on :9464.\n\n\
                  Run it:            meterd --config config/meterd.yaml\n\
                  Check a config:    meterd check-config config/meterd.yaml\n\n\
                  Reload: send SIGHUP or edit the config file; a bad new config is rejected and the \
                  running one stays.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Config file (YAML).
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "config/meterd.yaml",
        env = "METERD_CONFIG"
    )]
    config: PathBuf,

    #[command(flatten)]
    log: LogArgs,

    /// How often the config file is checked for changes (0 disables watching; SIGHUP still works).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    watch_interval: Duration,
}

#[derive(clap::Args, Debug, Clone)]
struct LogArgs {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,

    /// Log level or filter (e.g. `info`, `debug`, `meterd=debug,tower=warn`). RUST_LOG, when set,
    /// takes precedence.
    #[arg(long, default_value = "info", global = true)]
    log_level: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent (the default when no subcommand is given).
    Run(RunArgs),
    /// Validate a config file; print every error with file:line:column and exit non-zero if any.
    CheckConfig {
        /// Config file to check.
        file: PathBuf,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    meterd::config::units::parse_duration(s)
}

fn init_logging(args: &LogArgs) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&args.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn check_config(file: &Path) -> ExitCode {
    match meterd::config::load::load_config(file) {
        Ok(_) => {
            println!("{}: OK", file.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{errors}");
            eprintln!("{}: {} error(s)", file.display(), errors.0.len());
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    init_logging(&args.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("meterd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let running = match meterd::app::start(&args.config).await {
            Ok(r) => r,
            Err(meterd::app::StartError::Config(errors)) => {
                for e in &errors.0 {
                    tracing::error!("{e}");
                }
                tracing::error!(config = %args.config.display(), "invalid config; not starting");
                return ExitCode::from(EXIT_CONFIG);
            }
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let interval = (!args.watch_interval.is_zero()).then_some(args.watch_interval);
        match meterd::app::run_until_signalled(running, interval).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "signal handling failed");
                ExitCode::FAILURE
            }
        }
    })
}
