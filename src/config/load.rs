//! Reading config files: `${VAR}` substitution, YAML deserialization, unknown keys, semantic checks,
//! and every problem reported at once as `file:line:column: key.path: message`.
//!
//! Positions come from a key-path index built from the YAML event stream (see [`positions`]), so a
//! problem found after deserialization (by [`Validate`]) still points at the line a user must edit.

mod env;
mod positions;
#[cfg(test)]
mod tests;

use super::{Config, Issues, Validate};
use positions::PathIndex;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// Config and pricing files are hand-written; anything bigger is a mistake (or an attack) and is
/// refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// One problem, located in its file. `line` and `column` are 1-based; 0 means "the whole file".
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Loads the agent config, then the price table it names (relative to the config file's directory,
/// so a config and its pricing file can move together).
pub fn load_config(path: &Path) -> Result<Config, ConfigErrors> {
    let mut config: Config = load_file(path)?;
    if let Some(pricing_file) = config.pricing_file.clone() {
        let label = path.display().to_string();
        if config.pricing.is_some() {
            let text = read_capped(path)?;
            let index = PathIndex::build(&text);
            let (line, column) = index.locate("pricing_file");
            return Err(ConfigErrors(vec![ConfigError {
                file: label,
                line,
                column,
                path: "pricing_file".into(),
                message: "set either `pricing_file` or an inline `pricing` table, not both".into(),
            }]));
        }
        let full = resolve_relative(path, &pricing_file);
        config.pricing = Some(load_file(&full)?);
        config.pricing_file = Some(full);
    }
    Ok(config)
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

/// Reads, substitutes the process environment, deserializes and validates one file.
pub fn load_file<T: DeserializeOwned + Validate>(path: &Path) -> Result<T, ConfigErrors> {
    let text = read_capped(path)?;
    load_str(&text, &path.display().to_string(), &|name| {
        std::env::var(name).ok()
    })
}

/// The pure core of loading: `label` names the source in messages, `env` looks variables up.
pub fn load_str<T: DeserializeOwned + Validate>(
    text: &str,
    label: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<T, ConfigErrors> {
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
        let key = path.rsplit(['.', '[']).next().unwrap_or(&path).to_string();
        errors.push(at(line, column, path, format!("unknown key `{key}`")));
    }
    let value: Option<T> = match parsed {
        Ok(v) => Some(v),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((0, 0));
            let path = index.path_at(line, column).unwrap_or_default();
            let message = e.without_snippet().to_string();
            errors.push(at(line, column, path, first_line(&message)));
            None
        }
    };
    if let Some(v) = &value {
        let mut issues = Issues::default();
        v.validate("", &mut issues);
        for issue in issues.0 {
            let (line, column) = index.locate(&issue.path);
            errors.push(at(line, column, issue.path, issue.message));
        }
    }
    match value {
        Some(v) if errors.is_empty() => Ok(v),
        _ => {
            errors.sort_by_key(|e| (e.line, e.column));
            errors.dedup();
            Err(ConfigErrors(errors))
        }
    }
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
