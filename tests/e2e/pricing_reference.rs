//! Issue #27's reference table: real calls through `meterd price` with the shipped table, each
//! expected figure worked out by hand from the reference price (LiteLLM 1.110.2 snapshot in
//! config/pricing/litellm.json unless the row says genai-prices). Usage is in inclusive form
//! (GenAI convention): --input includes cached, cache-write and audio input tokens; --output
//! includes reasoning and audio output tokens. Prices are USD per 1M tokens; "a x p" below is
//! tokens x price, summed and divided by 1e6.

use std::process::Command;

pub struct Call {
    pub provider: &'static str,
    pub model: &'static str,
    pub args: &'static [&'static str],
    pub usd: &'static str,
}

const fn call(
    provider: &'static str,
    model: &'static str,
    args: &'static [&'static str],
    usd: &'static str,
) -> Call {
    Call {
        provider,
        model,
        args,
        usd,
    }
}

#[rustfmt::skip]
pub const CALLS: &[Call] = &[
    // ---------------------------------------------------------------- OpenAI
    // 1000 x 2.50 + 200 x 1.25 + 300 x 10 = 2500 + 250 + 3000 = 5750
    call("openai", "gpt-4o", &["--input", "1200", "--cached-input", "200", "--output", "300"], "0.00575"),
    // priority (explicit 4.25 / 2.125 / 17): 1000 x 4.25 + 200 x 2.125 + 300 x 17 = 4250 + 425 + 5100
    call("openai", "gpt-4o", &["--input", "1200", "--cached-input", "200", "--output", "300", "--service-tier", "priority"], "0.009775"),
    // batch (explicit 1.25 / 5): 1000000 x 1.25 + 100000 x 5 = 1250000 + 500000
    call("openai", "gpt-4o", &["--input", "1000000", "--output", "100000", "--service-tier", "Batch"], "1.75"),
    // reasoning billed at output: 2000 x 1.25 + 3000 x 0.125 + 1000 x 10 + 3000 x 10 = 2500 + 375 + 10000 + 30000
    call("openai", "gpt-5", &["--input", "5000", "--cached-input", "3000", "--output", "4000", "--reasoning", "3000"], "0.042875"),
    // flex (explicit 0.625 / 5): 100000 x 0.625 + 10000 x 5 = 62500 + 50000
    call("openai", "gpt-5", &["--input", "100000", "--output", "10000", "--service-tier", "flex"], "0.1125"),
    // priority (explicit 2.50 / 20): 10000 x 2.5 + 2000 x 20 = 25000 + 40000
    call("openai", "gpt-5.1", &["--input", "10000", "--output", "2000", "--service-tier", "priority"], "0.065"),
    // 2.50 / 0.25 / 15: 8000 x 2.5 + 2000 x 0.25 + 1000 x 15 = 20000 + 500 + 15000
    call("openai", "gpt-5.4", &["--input", "10000", "--cached-input", "2000", "--output", "1000"], "0.0355"),
    // above 272k: 5 / 22.50: 300000 x 5 + 1000 x 22.5 = 1500000 + 22500
    call("openai", "gpt-5.4", &["--input", "300000", "--output", "1000"], "1.5225"),
    // 1.25 / 10: 10000 x 1.25 + 5000 x 10 = 12500 + 50000
    call("openai", "gpt-5-codex", &["--input", "10000", "--output", "5000", "--reasoning", "3000"], "0.0625"),
    // after the 2025-06-10 cut, 2 / 0.5 / 8: 10000 x 2 + 10000 x 0.5 + 5000 x 8 = 20000 + 5000 + 40000
    call("openai", "o3", &["--input", "20000", "--cached-input", "10000", "--output", "5000", "--reasoning", "4000"], "0.065"),
    // launch price, 10 / 2.5 / 40: 10000 x 10 + 10000 x 2.5 + 5000 x 40 = 100000 + 25000 + 200000
    call("openai", "o3", &["--input", "20000", "--cached-input", "10000", "--output", "5000", "--at", "2025-05-01"], "0.325"),
    // 20 / 80: 1000 x 20 + 1000 x 80
    call("openai", "o3-pro", &["--input", "1000", "--output", "1000"], "0.10"),
    // genai-prices, 5 / 20 text, 40 / 80 audio: 200 x 5 + 800 x 40 + 100 x 20 + 400 x 80 = 1000 + 32000 + 2000 + 32000
    call("openai", "gpt-4o-realtime-preview", &["--input", "1000", "--audio-input", "800", "--output", "500", "--audio-output", "400"], "0.067"),
    // 4 / 16 text, 32 / 64 audio: 500 x 4 + 1500 x 32 + 100 x 16 + 900 x 64 = 2000 + 48000 + 1600 + 57600
    call("openai", "gpt-realtime", &["--input", "2000", "--audio-input", "1500", "--output", "1000", "--audio-output", "900"], "0.1092"),
    // 0.0001 per second: 90 x 0.0001
    call("openai", "whisper-1", &["--audio-seconds", "90"], "0.009"),
    // genai-prices, audio tokens 6, output 10: 1000 x 6 + 200 x 10 = 6000 + 2000
    call("openai", "gpt-4o-transcribe", &["--input", "1000", "--audio-input", "1000", "--output", "200"], "0.008"),
    // genai-prices, audio tokens 3, output 5: 2000 x 3 + 400 x 5 = 6000 + 2000
    call("openai", "gpt-4o-mini-transcribe", &["--input", "2000", "--audio-input", "2000", "--output", "400"], "0.008"),
    // image tokens out at 40, text in at 5: 100 x 5 + 4160 x 40 = 500 + 166400
    call("openai", "gpt-image-1", &["--input", "100", "--output", "4160"], "0.1669"),
    // 0.02: 1000000 x 0.02
    call("openai", "text-embedding-3-small", &["--input", "1000000"], "0.02"),
    // 15 per 1M characters: 1000 x 15
    call("openai", "tts-1", &["--characters", "1000"], "0.015"),
    // genai-prices, 5 / 15 (not gpt-4o's 2.50 / 10): 1000 x 5 + 1000 x 15
    call("openai", "chatgpt-4o-latest", &["--input", "1000", "--output", "1000"], "0.02"),
    // ---------------------------------------------------------------- Anthropic (direct)
    // prompt 252k > 200k, long-context 6 / 0.6 / 22.50: 2000 x 6 + 250000 x 0.6 + 1000 x 22.5 = 12000 + 150000 + 22500
    call("anthropic", "claude-sonnet-4-5-20250929", &["--input", "252000", "--cached-input", "250000", "--output", "1000"], "0.1845"),
    // 5-minute cache write 3.75: 2000 x 3 + 8000 x 3.75 + 500 x 15 = 6000 + 30000 + 7500
    call("anthropic", "claude-sonnet-4-5", &["--input", "10000", "--cache-write-5m", "8000", "--output", "500"], "0.0435"),
    // 1-hour write 6, read 0.3: 5000 x 3 + 10000 x 6 + 5000 x 0.3 + 1000 x 15 = 15000 + 60000 + 1500 + 15000
    call("anthropic", "claude-sonnet-4-6", &["--input", "20000", "--cache-write-1h", "10000", "--cached-input", "5000", "--output", "1000"], "0.0915"),
    // batch (explicit 2.50 / 12.50): 100000 x 2.5 + 10000 x 12.5 = 250000 + 125000
    call("anthropic", "claude-opus-4-7", &["--input", "100000", "--output", "10000", "--service-tier", "batch"], "0.375"),
    // thinking billed as output, 1 / 5: 3000 x 1 + 2000 x 5 = 3000 + 10000
    call("anthropic", "claude-haiku-4-5-20251001", &["--input", "3000", "--output", "2000", "--reasoning", "1500"], "0.013"),
    // batch with cache reads (explicit 1.5 / 0.15 / 7.5): 50000 x 1.5 + 50000 x 0.15 + 2000 x 7.5 = 75000 + 7500 + 15000
    call("anthropic", "claude-sonnet-4-5", &["--input", "100000", "--cached-input", "50000", "--output", "2000", "--service-tier", "batch"], "0.0975"),
    // ---------------------------------------------------------------- Anthropic on Bedrock
    // 3 / 15: 10000 x 3 + 1000 x 15 = 30000 + 15000
    call("aws.bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", &["--input", "10000", "--output", "1000"], "0.045"),
    // us. regional profile, +10%: 3.3 / 16.5: 10000 x 3.3 + 1000 x 16.5 = 33000 + 16500
    call("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", &["--input", "10000", "--output", "1000"], "0.0495"),
    // us. long context, 6.6 / 24.75: 300000 x 6.6 + 1000 x 24.75 = 1980000 + 24750
    call("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", &["--input", "300000", "--output", "1000"], "2.00475"),
    // global. profile at the base price, 5 / 25: 10000 x 5 + 1000 x 25 = 50000 + 25000
    call("aws.bedrock", "global.anthropic.claude-opus-4-7", &["--input", "10000", "--output", "1000"], "0.075"),
    // Llama 3.3 70B, 0.72 / 0.72: 10000 x 0.72 + 2000 x 0.72 = 7200 + 1440
    call("aws.bedrock", "meta.llama3-3-70b-instruct-v1:0", &["--input", "10000", "--output", "2000"], "0.00864"),
    // ---------------------------------------------------------------- Anthropic on Vertex AI
    // 3 / 0.3 / 15: 4000 x 3 + 6000 x 0.3 + 1000 x 15 = 12000 + 1800 + 15000
    call("gcp.vertex_ai", "claude-sonnet-4-5@20250929", &["--input", "10000", "--cached-input", "6000", "--output", "1000"], "0.0288"),
    // 5 / 25: 1000 x 5 + 1000 x 25
    call("gcp.vertex_ai", "claude-opus-4-7", &["--input", "1000", "--output", "1000"], "0.03"),
    // ---------------------------------------------------------------- Google Gemini
    // prompt 300k > 200k, 2.50 / 15 (thinking as output): 300000 x 2.5 + 2000 x 15 = 750000 + 30000
    call("gcp.gemini", "gemini-2.5-pro", &["--input", "300000", "--output", "2000", "--reasoning", "1500"], "0.78"),
    // priority (explicit 2.25 / 18, 1.8x): 100000 x 2.25 + 1000 x 18 = 225000 + 18000
    call("gcp.gemini", "gemini-2.5-pro", &["--input", "100000", "--output", "1000", "--service-tier", "priority"], "0.243"),
    // priority above 200k (explicit 4.50 / 27): 250000 x 4.5 + 1000 x 27 = 1125000 + 27000
    call("gcp.gemini", "gemini-2.5-pro", &["--input", "250000", "--output", "1000", "--service-tier", "priority"], "1.152"),
    // audio input 1, text 0.30, output (and thinking) 2.50: 2000 x 0.3 + 8000 x 1 + 200 x 2.5 + 300 x 2.5 = 600 + 8000 + 500 + 750
    call("gcp.gemini", "gemini-2.5-flash", &["--input", "10000", "--audio-input", "8000", "--output", "500", "--reasoning", "300"], "0.00985"),
    // batch (explicit 0.15 / 1.25): 1000000 x 0.15 + 100000 x 1.25 = 150000 + 125000
    call("gcp.gemini", "gemini-2.5-flash", &["--input", "1000000", "--output", "100000", "--service-tier", "batch"], "0.275"),
    // genai-prices, 2 / 12: 10000 x 2 + 1000 x 12 = 20000 + 12000
    call("gcp.gemini", "gemini-3-pro-preview", &["--input", "10000", "--output", "1000"], "0.032"),
    // 0.5 / 0.05 / 3: 5000 x 0.5 + 5000 x 0.05 + 2000 x 3 = 2500 + 250 + 6000
    call("gcp.gemini", "gemini-3-flash-preview", &["--input", "10000", "--cached-input", "5000", "--output", "2000"], "0.00875"),
    // 0.15: 1000000 x 0.15
    call("gcp.gemini", "gemini-embedding-001", &["--input", "1000000"], "0.15"),
    // ---------------------------------------------------------------- Mistral
    // Mistral Large 3, 0.5 / 1.5 (not Large 2's 2 / 6): 10000 x 0.5 + 1000 x 1.5 = 5000 + 1500
    call("mistral_ai", "mistral-large-2512", &["--input", "10000", "--output", "1000"], "0.0065"),
    // Mistral Medium 3.5, 1.5 / 7.5: 10000 x 1.5 + 1000 x 7.5 = 15000 + 7500
    call("mistral_ai", "mistral-medium-2604", &["--input", "10000", "--output", "1000"], "0.0225"),
    // Mistral Large 2 (hand-kept), 2 / 6: 10000 x 2 + 1000 x 6 = 20000 + 6000
    call("mistral_ai", "mistral-large-2411", &["--input", "10000", "--output", "1000"], "0.026"),
    // ---------------------------------------------------------------- xAI
    // genai-prices grok-4-0709, 3 / 0.75 / 15: 6000 x 3 + 4000 x 0.75 + 1000 x 15 = 18000 + 3000 + 15000
    call("x_ai", "grok-4", &["--input", "10000", "--cached-input", "4000", "--output", "1000"], "0.036"),
    // above 200k, 2.5 / 5: 300000 x 2.5 + 1000 x 5 = 750000 + 5000
    call("x_ai", "grok-4.3", &["--input", "300000", "--output", "1000"], "0.755"),
    // batch (explicit 1 / 2): 100000 x 1 + 10000 x 2 = 100000 + 20000
    call("x_ai", "grok-4.3", &["--input", "100000", "--output", "10000", "--service-tier", "batch"], "0.12"),
    // ---------------------------------------------------------------- DeepSeek
    // 0.28 / 0.028 / 0.42: 40000 x 0.28 + 60000 x 0.028 + 2000 x 0.42 = 11200 + 1680 + 840
    call("deepseek", "deepseek-chat", &["--input", "100000", "--cached-input", "60000", "--output", "2000"], "0.01372"),
    // reasoning as output, 0.28 / 0.42: 10000 x 0.28 + 5000 x 0.42 = 2800 + 2100
    call("deepseek", "deepseek-reasoner", &["--input", "10000", "--output", "5000", "--reasoning", "4000"], "0.0049"),
    // ---------------------------------------------------------------- Groq, Together
    // genai-prices, 0.59 / 0.79: 10000 x 0.59 + 1000 x 0.79 = 5900 + 790
    call("groq", "llama-3.3-70b-versatile", &["--input", "10000", "--output", "1000"], "0.00669"),
    // 1.04 / 1.04: 10000 x 1.04 + 1000 x 1.04 = 10400 + 1040
    call("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo", &["--input", "10000", "--output", "1000"], "0.01144"),
];

#[test]
fn meterd_price_gives_the_reference_figure_for_every_call() {
    assert!(CALLS.len() >= 40, "{}", CALLS.len());
    let table = concat!(env!("CARGO_MANIFEST_DIR"), "/config/pricing.yaml");
    let mut wrong = Vec::new();
    for c in CALLS {
        let mut args = vec![
            "price",
            "--pricing",
            table,
            "--provider",
            c.provider,
            "--model",
            c.model,
        ];
        args.extend_from_slice(c.args);
        // A fixed date after every current price's start (o3's cut, ...), unless the row sets one.
        if !c.args.contains(&"--at") {
            args.extend_from_slice(&["--at", "2026-12-01"]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_meterd"))
            .args(&args)
            .output()
            .expect("run meterd price");
        let text = String::from_utf8_lossy(&out.stdout);
        let total = text
            .lines()
            .find(|l| l.starts_with("total"))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("");
        if !out.status.success() || total != c.usd {
            wrong.push(format!(
                "{} {} {:?}: want {}, got {total:?}\n{text}{}",
                c.provider,
                c.model,
                c.args,
                c.usd,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
