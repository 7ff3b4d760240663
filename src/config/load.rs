//! Reading config files: `${VAR}` substitution, YAML deserialization, unknown keys, semantic checks,
//! and every problem reported at once as `file:line:column: key.path: message`.
//!
//! Positions come from a key-path index built from the YAML event stream (see [`positions`]), so a
//! problem found after deserialization (by [`Validate`]) still points at the line a user must edit.

mod data_dir;
mod env;
mod messages;
mod positions;
#[cfg(test)]
mod tests;

use super::pricing::PricingTable;
use super::{Config, Issues, Validate};
use positions::PathIndex;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// Config and pricing files are hand-written; anything bigger is a mistake (or an attack) and is
/// refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// One problem, located in its file. `line` and `column` are 1-based; 0 means "the whole file".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one load, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// Problems of a config that has no file to point into (built in code).
    pub fn unlocated(file: &str, issues: Issues) -> ConfigErrors {
        ConfigErrors(
            issues
                .0
                .into_iter()
                .map(|issue| ConfigError {
                    file: file.to_string(),
                    line: 0,
                    column: 0,
                    path: issue.path,
                    message: issue.message,
                })
                .collect(),
        )
    }

    fn whole_file(file: &str, message: impl Into<String>) -> ConfigErrors {
        ConfigErrors(vec![ConfigError {
            file: file.to_string(),
            line: 0,
            column: 0,
            path: String::new(),
            message: message.into(),
        }])
    }
}

/// Loads the agent config and checks its plain values (see [`load_config_with`] for the checks
/// that need compiling).
pub fn load_config(path: &Path) -> Result<Config, ConfigErrors> {
    load_config_with(path, Ok)
}

/// Loads the agent config, then its price table, layered bottom to top:
/// 1. `pricing_file` (relative to the config file's directory, so a config and its pricing file
///    move together), preceded by the chain of files it `extends` (each relative to its own file);
/// 2. an inline `pricing:` section (which may itself `extends:` a file, relative to the config).
///
/// An upper layer's entry replaces every lower entry with the same provider and model; other
/// entries add up (see `PricingTable::layer`). Each layer is validated alone (positions in its own
/// file), then the merged table (ambiguities across layers, reported where the entry is defined).
///
/// Last, `compile` turns the loaded config into what the caller runs, reporting what only
/// compiling finds (mappings, budgets) by key path; those problems are located in the config file
/// and reported together with every other one. Config knows nothing of what it configures: the
/// layer that compiles supplies `compile` (`pipeline::load` does).
pub fn load_config_with<T>(
    path: &Path,
    compile: impl FnOnce(Config) -> Result<T, Issues>,
) -> Result<T, ConfigErrors> {
    let label = path.display().to_string();
    let text = read_capped(path)?;
    let env = |name: &str| std::env::var(name).ok();
    let (config, mut errors, index) = parse_str::<Config>(&text, &label, &env);
    let Some(mut config) = config else {
        return Err(ConfigErrors(errors));
    };
    match data_dir::resolve(path, &config.state.data_dir) {
        Ok(dir) => config.state.data_dir = dir,
        Err(e) => errors.push(e),
    }
    let mut layers: Vec<Layer> = Vec::new();
    if let Some(pricing_file) = config.pricing_file.clone() {
        let full = resolve_relative(path, &pricing_file);
        load_pricing_chain(&full, &mut layers, 0)?;
        config.pricing_file = Some(full);
    }
    if let Some(mut inline) = config.pricing.take() {
        if let Some(base) = inline.extends.take() {
            load_pricing_chain(&resolve_relative(path, &base), &mut layers, 1)?;
        }
        inline.set_origin(&label, "pricing");
        layers.push(Layer {
            table: inline,
            file: label.clone(),
            index: PathIndex::build(&text),
        });
    }
    config.pricing = merge_layers(layers)?;
    check_tls(path, &mut config)?;
    match compile(config) {
        Ok(compiled) if errors.is_empty() => Ok(compiled),
        Ok(_) => Err(ConfigErrors(sorted(errors))),
        Err(issues) => {
            errors.extend(locate(&label, &index, issues));
            Err(ConfigErrors(sorted(errors)))
        }
    }
}

/// Resolves TLS file paths against the config file's directory and reads every certificate and
/// key once, so a missing, unreadable or mismatched file fails the load (and `check-config`)
/// with its path, not the first handshake.
fn check_tls(path: &Path, config: &mut Config) -> Result<(), ConfigErrors> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    config.tls.resolve(&dir);
    if config.tls.files().is_empty() {
        return Ok(());
    }
    let index = PathIndex::build(&read_capped(path)?);
    config
        .tls
        .build(&path.display().to_string(), &|p| index.locate(p))
        .map(|_| ())
}

/// Loads a pricing file and the chain it `extends` (for `meterd price --pricing`).
pub fn load_pricing(path: &Path) -> Result<PricingTable, ConfigErrors> {
    let mut layers = Vec::new();
    load_pricing_chain(path, &mut layers, 0)?;
    Ok(merge_layers(layers)?.unwrap_or_default())
}

/// Longest `extends` chain followed; deeper means a cycle or a mistake.
const MAX_PRICING_LAYERS: usize = 8;

struct Layer {
    table: PricingTable,
    file: String,
    index: PathIndex,
}

fn load_pricing_chain(
    path: &Path,
    layers: &mut Vec<Layer>,
    depth: usize,
) -> Result<(), ConfigErrors> {
    let label = path.display().to_string();
    if depth >= MAX_PRICING_LAYERS {
        return Err(ConfigErrors::whole_file(
            &label,
            format!("`extends` chain longer than {MAX_PRICING_LAYERS} files (does it loop?)"),
        ));
    }
    let text = read_capped(path)?;
    let mut table: PricingTable = load_str(&text, &label, &|name| std::env::var(name).ok())?;
    if let Some(base) = table.extends.take() {
        load_pricing_chain(&resolve_relative(path, &base), layers, depth + 1)?;
    }
    table.set_origin(&label, "");
    table.sources = vec![path.to_path_buf()];
    layers.push(Layer {
        table,
        file: label,
        index: PathIndex::build(&text),
    });
    Ok(())
}

fn merge_layers(layers: Vec<Layer>) -> Result<Option<PricingTable>, ConfigErrors> {
    let mut files: Vec<(String, PathIndex)> = Vec::new();
    let mut merged: Option<PricingTable> = None;
    for l in layers {
        merged = Some(match merged {
            None => l.table,
            Some(m) => m.layer(l.table),
        });
        files.push((l.file, l.index));
    }
    let Some(table) = merged else {
        return Ok(None);
    };
    if files.len() < 2 {
        return Ok(Some(table));
    }
    let mut issues = Issues::default();
    table.validate("", &mut issues);
    if issues.is_empty() {
        return Ok(Some(table));
    }
    let mut errors = Vec::new();
    for issue in issues.0 {
        // `models[i].rest` -> the file and key path where entry i was written.
        let origin = issue
            .path
            .strip_prefix("models[")
            .and_then(|r| r.split_once(']'))
            .and_then(|(i, rest)| Some((table.models.get(i.parse::<usize>().ok()?)?, rest)));
        let (file, path) = match origin {
            Some((m, rest)) => (
                m.origin.file.to_string(),
                format!("{}{rest}", m.origin.path),
            ),
            None => (
                files.last().map(|f| f.0.clone()).unwrap_or_default(),
                issue.path,
            ),
        };
        let (line, column) = files
            .iter()
            .find(|(f, _)| *f == file)
            .map_or((0, 0), |(_, idx)| idx.locate(&path));
        // Messages name entries by merged position; say which file each came from.
        let message = rename_entries(&issue.message, &table);
        errors.push(ConfigError {
            file,
            line,
            column,
            path,
            message,
        });
    }
    Err(ConfigErrors(errors))
}

/// Rewrites `models[i]` references in a merged-table message to `file: path` of that entry.
fn rename_entries(message: &str, table: &PricingTable) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("models[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 7..];
        let parsed = after
            .split_once(']')
            .and_then(|(n, tail)| Some((table.models.get(n.parse::<usize>().ok()?)?, tail)));
        match parsed {
            Some((m, tail)) => {
                out.push_str(&format!("{} ({})", m.origin.path, m.origin.file));
                rest = tail;
            }
            None => {
                out.push_str("models[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn resolve_relative(config_path: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

fn read_capped(path: &Path) -> Result<String, ConfigErrors> {
    use std::io::Read;
    let label = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| ConfigErrors::whole_file(&label, format!("cannot open: {e}")))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigErrors::whole_file(&label, format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigErrors::whole_file(
            &label,
            format!("larger than {MAX_CONFIG_BYTES} bytes; refusing to parse"),
        ));
    }
    Ok(text)
}

/// The pure core of loading: `label` names the source in messages, `env` looks variables up.
pub fn load_str<T: DeserializeOwned + Validate>(
    text: &str,
    label: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<T, ConfigErrors> {
    match parse_str(text, label, env) {
        (Some(v), errors, _) if errors.is_empty() => Ok(v),
        (_, errors, _) => Err(ConfigErrors(errors)),
    }
}

/// Substitutes, deserializes and checks `text`: the value (unless it could not be read at all),
/// every problem found, in file order, and the index that locates key paths in it.
fn parse_str<T: DeserializeOwned + Validate>(
    text: &str,
    label: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<T>, Vec<ConfigError>, PathIndex) {
    let at = |line: usize, column: usize, path: String, message: String| ConfigError {
        file: label.to_string(),
        line,
        column,
        path,
        message,
    };
    let (text, env_problems) = env::substitute(text, env);
    let mut errors: Vec<ConfigError> = env_problems
        .into_iter()
        .map(|p| at(p.line, p.column, String::new(), p.message))
        .collect();
    let index = PathIndex::build(&text);

    let mut unknown = Vec::new();
    let parsed = serde_saphyr::with_deserializer_from_str(&text, |de| {
        serde_ignored::deserialize(de, |p| unknown.push(ignored_path(&p)))
    });
    for path in unknown {
        let (line, column) = index.locate(&path);
        let (message, _) = messages::unknown_key(&path);
        errors.push(at(line, column, path, message));
    }
    let value: Option<T> = match parsed {
        Ok(v) => Some(v),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((0, 0));
            let path = index.path_at(line, column).unwrap_or_default();
            let message = first_line(&e.without_snippet().to_string());
            let first = index.locate(&path).0;
            let value = text
                .lines()
                .nth(line.saturating_sub(1))
                .and_then(|l| l.get(column.saturating_sub(1)..))
                .unwrap_or_default();
            let message = messages::parse_error(
                message,
                &path,
                (first > 0 && first != line).then_some(first),
                value,
            );
            errors.push(at(line, column, path, message));
            None
        }
    };
    if let Some(v) = &value {
        let mut issues = Issues::default();
        v.validate("", &mut issues);
        errors.extend(locate(label, &index, issues));
    }
    (value, sorted(errors), index)
}

/// Places problems found by key path at their line and column in the file `index` was built from.
fn locate(label: &str, index: &PathIndex, issues: Issues) -> Vec<ConfigError> {
    issues
        .0
        .into_iter()
        .map(|issue| {
            let (line, column) = index.locate(&issue.path);
            ConfigError {
                file: label.to_string(),
                line,
                column,
                path: issue.path,
                message: issue.message,
            }
        })
        .collect()
}

/// File order, each problem once (a value checked both plainly and by compiling may be reported
/// twice in the same words).
fn sorted(errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let mut errors = messages::without_echoes(errors);
    errors.sort_by_key(|e| (e.line, e.column));
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    errors
}

/// saphyr messages can carry a trailing location or snippet; the position is printed separately.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => String::new(),
        Path::Seq { parent, index } => super::index(&ignored_path(parent), *index),
        Path::Map { parent, key } => super::child(&ignored_path(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}
