//! `meterd budgets list|get|set|delete`: the command-line edge of the budgets admin API
//! (`meterd::expose::admin` budgets routes) against a running agent. The admin token comes from
//! an environment variable (`$METERD_ADMIN_TOKEN`, or the one `--token-env` names), never from
//! the command line, where `ps` would show it.
//!
//! `set` is an upsert: it reads the budget, then creates it (POST) or replaces it (PUT with
//! `If-Match` of the version it read, or of the one a `get` file was read at), so a change made
//! by someone else in between is refused (412), never silently overwritten.

use bytes::Bytes;
use http::{Method, StatusCode};
use meterd::config::fleet::Target;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct BudgetsArgs {
    /// The agent's HTTP endpoint.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:9464",
        env = "METERD_URL"
    )]
    url: String,
    /// The environment variable holding the admin token.
    #[arg(long, global = true, default_value = "METERD_ADMIN_TOKEN")]
    token_env: String,
    #[command(subcommand)]
    command: BudgetsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BudgetsCommand {
    /// Every budget (config and API) with origin, period, limit, spend, status and version.
    List {
        /// Print the admin API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One budget's definition and version, as JSON (feed it back to `set --file`).
    Get { name: String },
    /// Create or replace an API budget, from a file or from flags.
    #[command(after_help = "Examples:\n  \
        meterd budgets set --name search-weekly --period weekly --limit-usd 25 --match team=search\n  \
        meterd budgets set --file budget.yaml\n  \
        meterd budgets set --name search-weekly --period weekly --limit-usd 40 --if-match 3")]
    Set(Box<SetArgs>),
    /// Delete an API budget (its spend stays as orphaned records).
    Delete {
        name: String,
        /// Only if the budget is still at this version.
        #[arg(long)]
        if_match: Option<u64>,
    },
}

#[derive(clap::Args, Debug)]
struct SetArgs {
    /// A budget as JSON or YAML (the form of one entry of the config's `budgets:`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "period", "limit_usd"])]
    file: Option<PathBuf>,
    #[arg(long, required_unless_present = "file")]
    name: Option<String>,
    #[arg(long, required_unless_present = "file")]
    period: Option<String>,
    #[arg(long, required_unless_present = "file")]
    limit_usd: Option<f64>,
    /// A matcher `label=value` (value as in config: `search`, `=~gpt-4.*`, `!=dev`); repeatable.
    #[arg(long = "match", value_name = "LABEL=VALUE")]
    matchers: Vec<String>,
    #[arg(long)]
    timezone: Option<String>,
    /// Comma-separated ratios, e.g. 0.5,0.8,1.0.
    #[arg(long, value_delimiter = ',')]
    thresholds: Vec<f64>,
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    #[arg(long)]
    max_groups: Option<u64>,
    /// Replace only if the budget is at this version (default: the version just read).
    #[arg(long)]
    if_match: Option<u64>,
}

/// Exit codes: 0 done; 1 refused (404, 409, 412, 5xx) or unreachable; 2 usage; 78 an invalid
/// definition (400), like a config that does not validate.
const EXIT_INVALID: u8 = 78;
const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ANSWER: usize = 16 << 20;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("meterd budgets: {msg}");
    ExitCode::FAILURE
}

struct Agent {
    target: Target,
    token: String,
}

impl Agent {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<u64>,
    ) -> Result<(StatusCode, Option<u64>, Value), String> {
        let auth = format!("Bearer {}", self.token);
        let tag = if_match.map(|v| format!("\"{v}\""));
        let mut headers = Vec::new();
        if !self.token.is_empty() {
            headers.push(("authorization", auth.as_str()));
        }
        if let Some(t) = &tag {
            headers.push(("if-match", t.as_str()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let path = format!("{}{path}", self.target.prefix.trim_end_matches('/'));
        // The version is in the body too (ETag is read from there; the client returns no headers).
        let (status, answer) = meterd::net::client::request(
            &self.target,
            method,
            &path,
            &headers,
            bytes,
            MAX_ANSWER,
            TIMEOUT,
        )
        .await?;
        let value: Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer).into_owned()));
        let version = value.get("version").and_then(Value::as_u64);
        Ok((status, version, value))
    }
}

/// Prints a refusal as the API gives it; the exit code by its kind.
fn refused(status: StatusCode, body: &Value) -> ExitCode {
    let msg = body
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    eprintln!("meterd budgets: {status}: {msg}");
    for e in body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = e.get("field").and_then(Value::as_str).unwrap_or("");
        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
        eprintln!("  {field}: {message}");
    }
    if status == StatusCode::NOT_FOUND && body.is_string() {
        eprintln!("  (the admin API answers 404 until admin.tokens is configured)");
    }
    if status == StatusCode::BAD_REQUEST {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::FAILURE
    }
}

pub fn run(a: &BudgetsArgs) -> ExitCode {
    let target = match Target::parse(&a.url) {
        Ok(t) => t,
        Err(e) => return fail(format!("--url {:?}: {e}", a.url)),
    };
    let token = match std::env::var(&a.token_env) {
        Ok(t) if !t.is_empty() => t,
        _ => {
            return fail(format!(
                "${} is not set: export the admin token there (or name another variable with \
                 --token-env)",
                a.token_env
            ))
        }
    };
    let agent = Agent { target, token };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let outcome = rt.block_on(async {
        match &a.command {
            BudgetsCommand::List { json } => list(&agent, *json).await,
            BudgetsCommand::Get { name } => get(&agent, name).await,
            BudgetsCommand::Set(s) => set(&agent, s).await,
            BudgetsCommand::Delete { name, if_match } => delete(&agent, name, *if_match).await,
        }
    });
    outcome.unwrap_or_else(fail)
}

fn path_of(name: &str) -> String {
    // Names the API accepts are path-safe; anything else is escaped so it cannot change the path.
    let escaped: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/v1/admin/budgets/{escaped}")
}

async fn list(agent: &Agent, json: bool) -> Result<ExitCode, String> {
    let (status, _, admin) = agent
        .call(Method::GET, "/api/v1/admin/budgets", None, None)
        .await?;
    if !status.is_success() {
        return Ok(refused(status, &admin));
    }
    if json {
        println!("{admin:#}");
        return Ok(ExitCode::SUCCESS);
    }
    // Spend and status come from the budget API, which `http_auth` guards with its own
    // credentials: `$METERD_TOKEN` (as `meterd report` uses it) when set. Without access only the
    // API budgets' definitions are shown.
    let scrape = Agent {
        target: agent.target.clone(),
        token: std::env::var("METERD_TOKEN").unwrap_or_default(),
    };
    let (status, _, live) = scrape
        .call(Method::GET, "/api/v1/budgets", None, None)
        .await?;
    let live = if status.is_success() { live } else { json!({}) };
    println!(
        "{:<32} {:<7} {:<9} {:<12} {:>12} {:>12} {:<9} {:>7}",
        "NAME", "ORIGIN", "STATE", "PERIOD", "LIMIT_USD", "SPEND_USD", "STATUS", "VERSION"
    );
    let api = admin
        .get("budgets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut shown = std::collections::BTreeSet::new();
    for b in live
        .get("budgets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = b.get("name").and_then(Value::as_str).unwrap_or("");
        let group = b
            .get("group")
            .and_then(Value::as_object)
            .filter(|g| !g.is_empty())
            .map(|g| format!("{}{}", name, Value::Object(g.clone())))
            .unwrap_or_else(|| name.to_string());
        let version = api
            .iter()
            .find(|d| d.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|d| d.get("version").and_then(Value::as_u64));
        shown.insert(name.to_string());
        println!(
            "{:<32} {:<7} {:<9} {:<12} {:>12.2} {:>12.4} {:<9} {:>7}",
            group,
            b.get("origin").and_then(Value::as_str).unwrap_or(""),
            "active",
            b.get("period").and_then(Value::as_str).unwrap_or(""),
            b.get("limit_usd").and_then(Value::as_f64).unwrap_or(0.0),
            b.get("spend_usd").and_then(Value::as_f64).unwrap_or(0.0),
            b.get("status").and_then(Value::as_str).unwrap_or(""),
            version.map_or("-".into(), |v| v.to_string()),
        );
    }
    for d in &api {
        let name = d.get("name").and_then(Value::as_str).unwrap_or("");
        if shown.contains(name) {
            continue;
        }
        let def = d.get("definition").cloned().unwrap_or(Value::Null);
        println!(
            "{:<32} {:<7} {:<9} {:<12} {:>12} {:>12} {:<9} {:>7}",
            name,
            "api",
            d.get("state").and_then(Value::as_str).unwrap_or(""),
            def.get("period").and_then(Value::as_str).unwrap_or(""),
            def.get("limit_usd")
                .and_then(Value::as_f64)
                .map_or("-".into(), |l| format!("{l:.2}")),
            "-",
            "-",
            d.get("version")
                .and_then(Value::as_u64)
                .map_or("-".into(), |v| v.to_string()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn get(agent: &Agent, name: &str) -> Result<ExitCode, String> {
    let (status, _, body) = agent.call(Method::GET, &path_of(name), None, None).await?;
    if !status.is_success() {
        return Ok(refused(status, &body));
    }
    println!("{body:#}");
    Ok(ExitCode::SUCCESS)
}

/// The definition `set` sends (the file's, or one built from flags), and the version a file from
/// `meterd budgets get` was read at.
fn definition(s: &SetArgs) -> Result<(Value, Option<u64>), String> {
    if let Some(file) = &s.file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => serde_saphyr::from_str(&text)
                .map_err(|e| format!("{}: neither JSON nor YAML: {e}", file.display()))?,
        };
        // `meterd budgets get` output: the definition is under `definition`, and the change
        // must apply only to the version it was read at.
        let read_at = v.get("version").and_then(Value::as_u64);
        return Ok((v.get("definition").cloned().unwrap_or(v), read_at));
    }
    let mut m = Map::new();
    m.insert("name".into(), json!(s.name));
    m.insert("period".into(), json!(s.period));
    m.insert("limit_usd".into(), json!(s.limit_usd));
    if !s.matchers.is_empty() {
        let mut matchers = Map::new();
        for pair in &s.matchers {
            let Some((label, value)) = pair.split_once('=') else {
                return Err(format!("--match {pair:?}: expected LABEL=VALUE"));
            };
            matchers.insert(label.into(), json!(value));
        }
        m.insert("match".into(), Value::Object(matchers));
    }
    if let Some(tz) = &s.timezone {
        m.insert("timezone".into(), json!(tz));
    }
    if !s.thresholds.is_empty() {
        m.insert("thresholds".into(), json!(s.thresholds));
    }
    if !s.group_by.is_empty() {
        m.insert("group_by".into(), json!(s.group_by));
    }
    if let Some(n) = s.max_groups {
        m.insert("max_groups".into(), json!(n));
    }
    Ok((Value::Object(m), None))
}

async fn set(agent: &Agent, s: &SetArgs) -> Result<ExitCode, String> {
    let (def, read_at) = definition(s)?;
    let if_match = s.if_match.or(read_at);
    let Some(name) = def.get("name").and_then(Value::as_str) else {
        return Err("the definition has no \"name\"".into());
    };
    let (status, version, current) = agent.call(Method::GET, &path_of(name), None, None).await?;
    let (status, body) = if status == StatusCode::NOT_FOUND && if_match.is_none() {
        let (st, _, body) = agent
            .call(Method::POST, "/api/v1/admin/budgets", Some(&def), None)
            .await?;
        (st, body)
    } else if status.is_success() {
        if current.get("origin").and_then(Value::as_str) == Some("config") {
            eprintln!("meterd budgets: {name:?} is defined in the config file: edit the file");
            return Ok(ExitCode::FAILURE);
        }
        let tag = if_match.or(version);
        let (st, _, body) = agent
            .call(Method::PUT, &path_of(name), Some(&def), tag)
            .await?;
        (st, body)
    } else {
        return Ok(refused(status, &current));
    };
    if !status.is_success() {
        return Ok(refused(status, &body));
    }
    println!("{body:#}");
    Ok(ExitCode::SUCCESS)
}

async fn delete(agent: &Agent, name: &str, if_match: Option<u64>) -> Result<ExitCode, String> {
    let (status, _, body) = agent
        .call(Method::DELETE, &path_of(name), None, if_match)
        .await?;
    if !status.is_success() {
        return Ok(refused(status, &body));
    }
    println!("{body:#}");
    Ok(ExitCode::SUCCESS)
}
