//! `state.data_dir` is relative to the config file, like every other path in it: starting meterd
//! from another directory must find the same budget state, not silently start from zero.
//!
//! Older versions resolved it against the working directory. A state file left there (and none
//! yet where the config now points) is refused with both paths, rather than read as a fresh start.

use super::ConfigError;
use std::path::{Path, PathBuf};

/// The budget state file's name (the state module's `FILE_NAME`; config imports no subsystem, a
/// test keeps the two equal).
const STATE_FILE: &str = "budgets.redb";

/// Resolves a relative `data_dir` against `config_path`'s directory; an error when state is only
/// where the working directory would have put it.
pub(super) fn resolve(config_path: &Path, data_dir: &Path) -> Result<PathBuf, ConfigError> {
    let resolved = super::resolve_relative(config_path, data_dir);
    if resolved == data_dir || resolved.join(STATE_FILE).exists() {
        return Ok(resolved);
    }
    let legacy = data_dir.join(STATE_FILE);
    if !legacy.exists() {
        return Ok(resolved);
    }
    Err(ConfigError {
        file: config_path.display().to_string(),
        line: 0,
        column: 0,
        path: "state.data_dir".into(),
        message: format!(
            "{} is relative to this config file's directory, so budget state is kept in {}; \
             budget state from an earlier run is in {} (relative to the working directory, as \
             older versions read it). Move that directory to {}, or set data_dir to an absolute \
             path, so spend is not restarted from zero",
            data_dir.display(),
            resolved.display(),
            legacy.display(),
            resolved.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_name_matches_the_state_module() {
        assert_eq!(STATE_FILE, crate::state::FILE_NAME);
    }

    #[test]
    fn relative_is_against_the_config_directory() {
        let cfg = Path::new("/etc/meterd/meterd.yaml");
        assert_eq!(
            resolve(cfg, Path::new("data")),
            Ok(PathBuf::from("/etc/meterd/data"))
        );
        assert_eq!(
            resolve(cfg, Path::new("/var/lib/meterd")),
            Ok(PathBuf::from("/var/lib/meterd"))
        );
        // A config in the working directory: nothing moves.
        assert_eq!(
            resolve(Path::new("meterd.yaml"), Path::new("./data")),
            Ok(PathBuf::from("./data"))
        );
    }

    #[test]
    fn state_only_at_the_old_place_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_dir = dir.path().join("conf");
        std::fs::create_dir_all(&config_dir).expect("mkdir");
        let cfg = config_dir.join("meterd.yaml");
        // The old place is relative to the working directory (the package root under cargo test).
        let rel = PathBuf::from(format!("target/h23-data-dir-test-{}", std::process::id()));
        assert!(resolve(&cfg, &rel).is_ok(), "nothing anywhere: fine");
        std::fs::create_dir_all(&rel).expect("mkdir old");
        std::fs::write(rel.join(STATE_FILE), b"x").expect("old state");
        let err = resolve(&cfg, &rel).expect_err("old state only");
        assert_eq!(err.path, "state.data_dir");
        assert!(
            err.message
                .contains(&config_dir.join(&rel).display().to_string())
                && err.message.contains("from an earlier run")
                && err.message.contains("absolute"),
            "{}",
            err.message
        );
        // Once moved (or with state at the new place too), the new place wins.
        std::fs::create_dir_all(config_dir.join(&rel)).expect("mkdir new");
        std::fs::write(config_dir.join(&rel).join(STATE_FILE), b"x").expect("new state");
        assert_eq!(resolve(&cfg, &rel), Ok(config_dir.join(&rel)));
        std::fs::remove_dir_all(&rel).expect("clean up");
    }
}
