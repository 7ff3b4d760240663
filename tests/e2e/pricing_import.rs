//! `meterd pricing import` and `meterd pricing diff` as a user runs them to refresh prices.

use std::process::Command;

fn meterd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meterd"))
        .args(args)
        .output()
        .expect("run meterd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const LIST: &str = r#"{"gpt-5.1": {"litellm_provider": "openai", "input_cost_per_token": 1.25e-06,
  "output_cost_per_token": 1e-05, "input_cost_per_token_priority": 2.5e-06},
  "groq/whisper-odd": {"litellm_provider": "groq", "mode": "audio_transcription",
  "input_cost_per_second": 0.0001111111111111}}"#;

#[test]
fn import_writes_a_layer_that_prices_and_diff_exits_1_on_a_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    std::fs::write(p("list.json"), LIST).expect("write");
    let (code, _, err) = meterd(&[
        "pricing",
        "import",
        "--from",
        "litellm",
        &p("list.json"),
        "--checked",
        "2026-12-06",
        "-o",
        &p("base.yaml"),
    ]);
    assert_eq!(code, 0, "{err}");
    // What could not be billed exactly is said, not rounded.
    assert!(
        err.contains("groq/whisper-odd.input_cost_per_second"),
        "{err}"
    );
    assert!(err.contains("1 entries, "), "{err}");
    std::fs::write(
        p("top.yaml"),
        "extends: base.yaml\nmodels:\n  - {provider: openai, model: gpt-5.1, prices: {input: 1.25, output: 8}, source: contract}\n",
    )
    .expect("write");
    let (code, out, err) = meterd(&[
        "price",
        "--pricing",
        &p("base.yaml"),
        "--provider",
        "openai",
        "--model",
        "gpt-5.1",
        "--input",
        "1000000",
        "--service-tier",
        "priority",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("total") && l.ends_with(" 2.50")),
        "{out}"
    );
    let (code, out, _) = meterd(&["pricing", "diff", &p("base.yaml"), &p("base.yaml")]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = meterd(&["pricing", "diff", &p("base.yaml"), &p("top.yaml")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("~ openai/gpt-5.1 output: 10 -> 8"), "{out}");
    assert!(
        out.contains("~ openai/gpt-5.1 service_tier_prices.priority.input: 2.5 -> (none)"),
        "{out}"
    );
    let (code, _, err) = meterd(&["pricing", "import", "--from", "nope", &p("list.json")]);
    assert_eq!(code, 2, "{err}");
}
