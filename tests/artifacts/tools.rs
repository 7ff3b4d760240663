//! Runs the real promtool/amtool binaries.

use crate::support::artifacts::repo;
use std::process::Command;

/// Runs `program args...` in the repo root; panics with its output unless it succeeds.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` (install the Debian packages prometheus and prometheus-alertmanager; scripts/test.sh does): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    text
}

pub fn rel(p: &std::path::Path) -> String {
    p.strip_prefix(repo())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}
