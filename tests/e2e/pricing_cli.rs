//! `meterd price`: the breakdown a user checks a bill with, from the shipped table.

use std::process::Command;

fn price(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meterd"))
        .arg("price")
        .args([
            "--pricing",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/pricing.yaml"),
        ])
        .args(args)
        .output()
        .expect("run meterd price");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_the_breakdown_per_dimension() {
    let (ok, out, err) = price(&[
        "--provider",
        "openai",
        "--model",
        "gpt-4o",
        "--input",
        "1200",
        "--cached-input",
        "200",
        "--output",
        "300",
    ]);
    assert!(ok, "{err}");
    for needle in [
        "\"gpt-4o\" (exact name)",
        "source: https://developers.openai.com/api/docs/pricing",
        "1000 tokens  2.50 / 1M tokens",
        "200 tokens  1.25 / 1M tokens",
        "300 tokens  10.00 / 1M tokens",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 0.00575")),
        "{out}"
    );
}

#[test]
fn at_selects_the_price_in_force_then() {
    let args = [
        "--provider",
        "openai",
        "--model",
        "o3",
        "--input",
        "1000000",
    ];
    let (ok, before, err) = price(&[&args[..], &["--at", "2025-06-09"]].concat());
    assert!(ok, "{err}");
    assert!(
        before
            .lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 10.00")),
        "{before}"
    );
    let (_, after, _) = price(&[&args[..], &["--at", "2025-06-10"]].concat());
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 2.00")),
        "{after}"
    );
}

#[test]
fn audio_minutes_and_batch_tier() {
    let (ok, out, err) = price(&[
        "--provider",
        "openai",
        "--model",
        "whisper-1",
        "--audio-seconds",
        "90",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("90000 ms  0.0001 / second"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 0.009")),
        "{out}"
    );
    let (_, out, _) = price(&[
        "--provider",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--input",
        "1000000",
        "--service-tier",
        "batch",
    ]);
    assert!(
        out.contains("service tier \"batch\": the table's own prices for input, output"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 0.075")),
        "{out}"
    );
}

#[test]
fn unknown_model_fails_and_says_so() {
    let (ok, _, err) = price(&["--provider", "openai", "--model", "gpt-99", "--input", "5"]);
    assert!(!ok);
    assert!(err.contains("no price for model \"gpt-99\""), "{err}");
}

#[test]
fn config_with_inline_overrides_prices_through_them_and_bad_tables_exit_78() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("meterd.yaml");
    std::fs::write(
        &cfg,
        format!(
            "pricing_file: {}/config/pricing.yaml\npricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.00, output: 8.00}}, source: our contract}}\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .expect("write");
    let run = |config: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_meterd"))
            .args(["price", "--config"])
            .arg(config)
            .args([
                "--provider",
                "openai",
                "--model",
                "gpt-4o",
                "--input",
                "1000000",
            ])
            .output()
            .expect("run meterd price")
    };
    let out = run(&cfg);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("source: our contract"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 2.00")),
        "{stdout}"
    );

    std::fs::write(
        &cfg,
        "pricing:\n  models:\n    - provider: openai\n      model: gpt-4o\n      prices: {input: -2}\n",
    )
    .expect("write");
    let out = run(&cfg);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("meterd.yaml:5:")
            && stderr.contains("pricing.models[0].prices.input: -2 is negative"),
        "{stderr}"
    );
}
