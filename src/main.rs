//! The `meterd` command line: run the agent, validate a config, price a call by hand.

mod budgets_cli;
mod report_cli;

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
    /// Price one model call by hand from the pricing table, through the agent's own code path,
    /// and print the breakdown per dimension (to check a bill).
    Price(Box<PriceArgs>),
    /// Keep the price table from maintained public lists: import one as a layer, diff two tables.
    #[command(subcommand)]
    Pricing(PricingCommand),
    /// Spend for a range by day, model and scope labels, this month's forecast against each
    /// budget, and what the same token mix would have cost at the table's other models.
    Report(Box<report_cli::ReportArgs>),
    /// Manage budgets on a running agent over its admin API (token from $METERD_ADMIN_TOKEN).
    Budgets(Box<budgets_cli::BudgetsArgs>),
}

#[derive(Subcommand, Debug)]
enum PricingCommand {
    /// Convert a public price list to a pricing layer (YAML usable with `extends:`), exactly.
    #[command(
        after_help = "Example: meterd pricing import --from litellm model_prices_and_context_window.json -o config/pricing/litellm.yaml"
    )]
    Import {
        /// The list's format: litellm (model_prices_and_context_window.json) or genai-prices
        /// (data.json).
        #[arg(long, value_name = "SOURCE")]
        from: String,
        file: PathBuf,
        /// Output file (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The `checked:` text of every entry (default: today's date, UTC).
        #[arg(long)]
        checked: Option<String>,
    },
    /// Show what differs between two pricing files (and the files they extend): entries added,
    /// removed, and each changed price. Exit 1 when they differ, 0 when they price alike.
    Diff { a: PathBuf, b: PathBuf },
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example: meterd price --provider openai --model gpt-4o --input 1200 --cached-input 200 --output 300\n\
    Token counts follow the GenAI convention: --input includes --cached-input, --cache-write-* and\n\
    --audio-input; --output includes --reasoning and --audio-output."
)]
struct PriceArgs {
    #[arg(long)]
    provider: String,
    #[arg(long)]
    model: String,
    /// Input tokens (including cached, cache-write and audio input tokens; see --usage).
    #[arg(long, default_value_t = 0)]
    input: u64,
    /// Output tokens (including reasoning and audio output tokens).
    #[arg(long, default_value_t = 0)]
    output: u64,
    #[arg(long, default_value_t = 0)]
    cached_input: u64,
    #[arg(long = "cache-write-5m", default_value_t = 0)]
    cache_write_5m: u64,
    #[arg(long = "cache-write-1h", default_value_t = 0)]
    cache_write_1h: u64,
    #[arg(long, default_value_t = 0)]
    reasoning: u64,
    #[arg(long, default_value_t = 0)]
    audio_input: u64,
    #[arg(long, default_value_t = 0)]
    audio_output: u64,
    /// Audio duration in seconds (decimals allowed, millisecond precision).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds_ms, default_value = "0")]
    audio_seconds: u64,
    #[arg(long, default_value_t = 0)]
    characters: u64,
    #[arg(long, default_value_t = 0)]
    images: u64,
    /// Billable requests (per-request fees).
    #[arg(long, default_value_t = 1)]
    requests: u64,
    /// The request's whole input size, when it selects a long-context tier (default: --input).
    #[arg(long)]
    request_input_tokens: Option<u64>,
    /// Service tier (batch, flex, priority, ...), applying the table's multiplier.
    #[arg(long)]
    service_tier: Option<String>,
    /// How the token counts are meant: inclusive (GenAI conventions: --input holds the cache
    /// reads and writes), raw_input (Anthropic's and Bedrock's raw usage), raw_output (Gemini's),
    /// raw. Counts whose parts exceed their whole are read as raw anyway.
    #[arg(long, value_name = "SEMANTICS", value_parser = parse_semantics, default_value = "inclusive")]
    usage: meterd::model::UsageSemantics,
    /// When the call happened (YYYY-MM-DD or RFC 3339): prices in force then apply. Default: now.
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
    /// A pricing file (and the files it `extends`), instead of the config's table.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pricing: Option<PathBuf>,
    /// Config file whose pricing (pricing_file and inline overrides) to use.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "config/meterd.yaml",
        env = "METERD_CONFIG"
    )]
    config: PathBuf,
}

fn parse_seconds_ms(s: &str) -> Result<u64, String> {
    let femto = meterd::derive::pricing::Amount::new(s).scaled()?;
    let ms = femto / 1_000_000_000_000;
    if femto < 0 || femto % 1_000_000_000_000 != 0 {
        return Err(format!(
            "{s:?}: seconds must be non-negative with at most 3 decimals"
        ));
    }
    u64::try_from(ms).map_err(|e| e.to_string())
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
        Some(Command::Price(args)) => price(&args),
        Some(Command::Pricing(cmd)) => pricing(cmd),
        Some(Command::Report(args)) => report_cli::run(&args),
        Some(Command::Budgets(args)) => budgets_cli::run(&args),
        None => run(cli.run),
    }
}

fn check_config(file: &Path) -> ExitCode {
    match meterd::pipeline::load(file) {
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

fn parse_semantics(s: &str) -> Result<meterd::model::UsageSemantics, String> {
    meterd::model::UsageSemantics::from_name(s)
        .ok_or_else(|| format!("{s:?}: expected inclusive, raw_input, raw_output or raw"))
}

fn price(a: &PriceArgs) -> ExitCode {
    use meterd::derive::pricing::{compile, explain, Compiled};
    let loaded = match &a.pricing {
        Some(file) => meterd::config::load::load_pricing(file),
        None => {
            meterd::pipeline::load(&a.config).map(|s| s.config.pricing.clone().unwrap_or_default())
        }
    };
    let table = match loaded {
        Ok(t) => t,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let at = match &a.at {
        Some(d) => match compile::parse_date(d) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("--at: {e}");
                return ExitCode::from(2);
            }
        },
        None => meterd::clock::unix_nanos(),
    };
    let mut ev = meterd::model::UsageEvent::new(&a.provider, &a.model);
    ev.unix_nanos = at;
    ev.usage = meterd::model::Usage {
        input_tokens: a.input,
        output_tokens: a.output,
        cached_input_tokens: a.cached_input,
        cache_write_5m_tokens: a.cache_write_5m,
        cache_write_1h_tokens: a.cache_write_1h,
        reasoning_tokens: a.reasoning,
        audio_input_tokens: a.audio_input,
        audio_output_tokens: a.audio_output,
        audio_millis: a.audio_seconds,
        characters: a.characters,
        images: a.images,
        requests: a.requests,
    };
    ev.request_input_tokens = a.request_input_tokens;
    ev.service_tier = a.service_tier.as_deref().map(Box::from);
    ev.semantics = a.usage;
    match explain::explain(&Compiled::new(&table), &ev) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn pricing(cmd: PricingCommand) -> ExitCode {
    use meterd::derive::pricing::{diff, import};
    match cmd {
        PricingCommand::Import {
            from,
            file,
            output,
            checked,
        } => {
            let source = match import::Source::parse(&from) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("--from: {e}");
                    return ExitCode::from(2);
                }
            };
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::FAILURE;
                }
            };
            let checked =
                checked.unwrap_or_else(|| jiff::Zoned::now().strftime("%Y-%m-%d").to_string());
            let out = match import::import(source, &text, &checked) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::FAILURE;
                }
            };
            let name = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let header = format!(
                "Generated by `meterd pricing import --from {from} {name}`: do not edit; regenerate.\n\
                 {} entries; prices per 1M tokens (see config/pricing.yaml for units).",
                out.table.models.len()
            );
            let yaml = import::to_yaml(&out.table, &header);
            for s in &out.skipped {
                eprintln!("skipped: {s}");
            }
            eprintln!(
                "{} entries, {} skipped",
                out.table.models.len(),
                out.skipped.len()
            );
            match output {
                Some(path) => match std::fs::write(&path, yaml) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("{}: {e}", path.display());
                        ExitCode::FAILURE
                    }
                },
                None => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
            }
        }
        PricingCommand::Diff { a, b } => {
            let load = meterd::config::load::load_pricing;
            let (ta, tb) = match (load(&a), load(&b)) {
                (Ok(ta), Ok(tb)) => (ta, tb),
                (ra, rb) => {
                    for e in [ra.err(), rb.err()].into_iter().flatten() {
                        eprint!("{e}");
                    }
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let changes = diff::diff(&ta, &tb);
            for c in &changes {
                println!("{c}");
            }
            if changes.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("{} difference(s)", changes.len());
                ExitCode::FAILURE
            }
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
        let signals = match meterd::app::Signals::install() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot install signal handlers");
                return ExitCode::FAILURE;
            }
        };
        let running = match meterd::app::start(&args.config).await {
            Ok(r) => r,
            Err(meterd::app::StartError::Config(errors)) => {
                for e in &errors.0 {
                    tracing::error!("{e}");
                }
                tracing::error!(config = %args.config.display(), "invalid config; not starting");
                return ExitCode::from(EXIT_CONFIG);
            }
            // A damaged state file is a data error the operator must act on (as sysexits'
            // EX_CONFIG covers): a supervisor can tell it from a crash worth retrying.
            Err(
                e @ meterd::app::StartError::State(
                    meterd::state::StateError::Corrupt { .. }
                    | meterd::state::StateError::CorruptNoCopy { .. },
                ),
            ) => {
                tracing::error!("{e}");
                return ExitCode::from(EXIT_CONFIG);
            }
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let interval = (!args.watch_interval.is_zero()).then_some(args.watch_interval);
        match meterd::app::run_until_signalled(running, signals, interval).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "signal handling failed");
                ExitCode::FAILURE
            }
        }
    })
}
