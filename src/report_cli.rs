//! `meterd report`: the command-line edge of [`meterd::report`] (arguments, reading, printing).

use meterd::derive::budget::BudgetDef;
use meterd::derive::ledger::query::Dim;
use meterd::derive::ledger::{clock, Settings};
use meterd::derive::recommend;
use meterd::report::{self, render, source};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    meterd report --config config/meterd.yaml                   # this month, from ./data (agent stopped)\n  \
    meterd report --url http://127.0.0.1:9464 --from 2026-12-01 --to 2026-12-08 --by day,team\n  \
    meterd report --url http://127.0.0.1:9464 --what-if gpt-4o-mini --json")]
pub struct ReportArgs {
    /// Config whose price table, budgets, scope labels, usage.timezone and state.data_dir apply.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "config/meterd.yaml",
        env = "METERD_CONFIG"
    )]
    config: PathBuf,
    /// State file (or data directory) to read; default: the config's state.data_dir. It must not
    /// be open by a running agent: ask the agent with --url instead.
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    state: Option<PathBuf>,
    /// A running agent's HTTP endpoint (`http://host:9464`): reads /api/v1/usage and /metrics.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Bearer token for the agent's HTTP endpoint (http_auth).
    #[arg(long, env = "METERD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Start of the range (YYYY-MM-DD in usage.timezone, RFC 3339 or Unix seconds); default: the
    /// first of this month.
    #[arg(long)]
    from: Option<String>,
    /// End of the range, exclusive; default: the end of today.
    #[arg(long)]
    to: Option<String>,
    /// Breakdowns, comma-separated (day, hour, provider, model, or a scope label); default: day,
    /// model and every scope label.
    #[arg(long, value_delimiter = ',')]
    by: Vec<String>,
    /// Models to reprice at (`model` or `provider/model`, comma-separated); default: all.
    #[arg(long = "what-if", value_delimiter = ',')]
    what_if: Vec<String>,
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    #[arg(long)]
    csv: bool,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("meterd report: {msg}");
    ExitCode::FAILURE
}

pub fn run(a: &ReportArgs) -> ExitCode {
    let config = match meterd::config::load::load_config(&a.config) {
        Ok(c) => c,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(78);
        }
    };
    let Settings {
        timezone: tz,
        timezone_name,
        ..
    } = Settings::new(&config.usage);
    let now = jiff::Timestamp::now().as_second();
    let (default_from, default_to) = source::default_range(&tz, now);
    let parse = |t: &Option<String>, default: i64| match t {
        Some(t) => clock::parse_time(t, &tz),
        None => Ok(default),
    };
    let (from, to) = match (parse(&a.from, default_from), parse(&a.to, default_to)) {
        (Ok(f), Ok(t)) if t > f => (f, t),
        (Ok(_), Ok(_)) => return fail("--to must be after --from"),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let scope = &config.scope_labels;
    let mut by = Vec::new();
    let names: Vec<String> = if a.by.is_empty() {
        ["day", "model"]
            .iter()
            .map(|s| s.to_string())
            .chain(scope.iter().cloned())
            .collect()
    } else {
        a.by.clone()
    };
    for name in names {
        by.push(match name.as_str() {
            "day" => Dim::Day,
            "hour" => Dim::Hour,
            "provider" => Dim::Provider,
            "model" => Dim::Model,
            l if scope.iter().any(|s| s == l) => Dim::Label(l.to_string()),
            other => {
                return fail(format!(
                    "--by {other:?}: not day, hour, provider, model or a scope label ({scope:?})"
                ))
            }
        });
    }
    let budgets: Vec<Arc<BudgetDef>> = config
        .budgets
        .iter()
        .filter_map(|b| BudgetDef::compile(b).ok().map(Arc::new))
        .collect();
    // Read from the earliest instant any part needs: the range, this month, each budget period.
    let month = source::default_range(&tz, now).0;
    let earliest = budgets
        .iter()
        .filter_map(|b| match b.period {
            meterd::derive::budget::period::Period::Rolling(r) => Some(r.bounds(now).0),
            p => meterd::derive::budget::period::calendar_bounds(p, &b.timezone, now)
                .ok()
                .map(|(s, _)| s),
        })
        .chain([from, month])
        .min()
        .unwrap_or(from);
    let rec_settings = recommend::Settings::new(&config.recommendations);
    let earliest = earliest.min(recommend::rows_from(&tz, &budgets, now, &rec_settings));
    let read_to = to.max(now + 1);
    let read = match &a.url {
        Some(url) => source::from_api(url, a.token.as_deref(), scope, earliest, read_to),
        None => {
            let path = a
                .state
                .clone()
                .unwrap_or_else(|| config.state.data_dir.clone());
            source::from_state(&path, earliest, read_to).and_then(|rows| {
                Ok(source::FromApi {
                    rows,
                    quality: Default::default(),
                    caches: Vec::new(),
                    statuses: source::statuses_from_state(&path)?,
                })
            })
        }
    };
    let source::FromApi {
        rows,
        quality,
        caches,
        statuses,
    } = match read {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let pricing = config
        .pricing
        .as_ref()
        .map(meterd::derive::pricing::Compiled::new);
    let recommendations = recommend::recommend(&recommend::Input {
        rows: &rows,
        tz: &tz,
        now,
        pricing: pricing.as_deref(),
        quality: &quality,
        caches: &caches,
        budgets: &budgets,
        settings: &rec_settings,
        statuses: &statuses,
    });
    let r = report::build(&report::Input {
        rows: &rows,
        tz: &tz,
        tz_name: &timezone_name,
        from,
        to,
        now,
        by: &by,
        pricing: pricing.as_deref(),
        budgets: &budgets,
        quality: &quality,
        what_if: &a.what_if,
        cache_share_ppm: rec_settings.cached_share_target_ppm,
        recommendations: &recommendations,
    });
    if a.json {
        println!("{:#}", render::json(&r));
    } else if a.csv {
        print!("{}", render::csv(&r));
    } else {
        print!("{}", render::text(&r));
    }
    ExitCode::SUCCESS
}
