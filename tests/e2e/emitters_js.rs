//! The JavaScript case of issue #28: the Vercel AI SDK (`ai` from npm, pinned in
//! tests/js/package.json) with its OpenTelemetry integration (`experimental_telemetry`) makes one
//! `generateText` call to a fake OpenAI on loopback (tests/js/emit_ai.mjs) and exports over
//! OTLP/HTTP and gRPC with the OpenTelemetry JS SDK. The AI SDK sends two spans for one call: the
//! `ai.generateText` wrapper (`ai.usage.*`, no response id) and its `ai.generateText.doGenerate`
//! child (`gen_ai.*` and `ai.usage.*`, with the response id). meterd must count one request,
//! priced at the full usage (cache reads and reasoning are only in the `ai.usage.*` names).
//!
//! `node` and tests/js/node_modules come from scripts/test.sh (`npm ci`); the tests fail without.

use crate::support::emitters::{check, O4_MINI};
use std::path::Path;
use std::process::Command;

fn run(api: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        dir.join("node_modules/ai").is_dir(),
        "tests/js/node_modules is missing: run scripts/test.sh, or `npm ci --prefix tests/js`"
    );
    let combo = format!("ai-{api}");
    check(&combo, &O4_MINI, |transport, addr, service| {
        Command::new("node")
            .current_dir(&dir)
            .args(["emit_ai.mjs", api, transport, &addr.to_string(), service])
            .output()
            .unwrap_or_else(|e| panic!("cannot run node (scripts/test.sh installs it): {e}"))
    });
}

/// `openai.chat(model)`: the Chat Completions API.
#[test]
fn vercel_ai_sdk_openai_chat() {
    run("chat");
}

/// `openai.responses(model)`: the Responses API, the AI SDK's default for `openai(model)`.
#[test]
fn vercel_ai_sdk_openai_responses() {
    run("responses");
}
