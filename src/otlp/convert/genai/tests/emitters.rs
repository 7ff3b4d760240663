//! Spans with the attributes the real packages send (surveyed with the console transport of
//! tests/python/emitters.py), and the legacy and neighbouring conventions.

use super::*;

fn usage(attrs: Vec<KeyValue>) -> UsageEvent {
    span_usage(&[], &span(attrs), &[]).expect("a model call")
}

fn skipped(attrs: Vec<KeyValue>) -> bool {
    span_usage(&[], &span(attrs), &[]).is_none()
}

#[test]
fn openinference_openai_llm_span() {
    // openinference-instrumentation-openai 0.1.66: no llm.provider, an INTERNAL span.
    let ev = usage(vec![
        kv("llm.system", s("openai")),
        kv("llm.model_name", s("o4-mini-2025-04-16")),
        kv("llm.token_count.total", i(1700)),
        kv("llm.token_count.prompt", i(1200)),
        kv("llm.token_count.completion", i(500)),
        kv("llm.token_count.prompt_details.cache_read", i(200)),
        kv("llm.token_count.prompt_details.audio", i(7)),
        kv("llm.token_count.completion_details.reasoning", i(300)),
        kv("llm.token_count.completion_details.audio", i(9)),
        kv("openinference.span.kind", s("LLM")),
    ]);
    assert_eq!(
        (&*ev.provider, &*ev.model, &*ev.operation),
        ("openai", "o4-mini-2025-04-16", "chat")
    );
    let u = &ev.usage;
    assert_eq!(
        (u.requests, u.input_tokens, u.output_tokens),
        (1, 1200, 500)
    );
    assert_eq!((u.cached_input_tokens, u.reasoning_tokens), (200, 300));
    assert_eq!((u.audio_input_tokens, u.audio_output_tokens), (7, 9));
    assert_eq!(ev.status, Some(CallStatus::Ok));
    assert_eq!(ev.duration, Some(Duration::from_millis(834)));
    assert!(ev.trace_id.is_some(), "exemplars need the trace id");
}

#[test]
fn openinference_anthropic_llm_span_prefers_provider_and_response_model() {
    // openinference-instrumentation-anthropic 3.1.0.
    let ev = usage(vec![
        kv("llm.provider", s("anthropic")),
        kv("llm.system", s("anthropic")),
        kv("llm.request.model_name", s("claude-sonnet-4-5")),
        kv("llm.model_name", s("claude-sonnet-4-5-20250929")),
        kv("llm.response.model_name", s("claude-sonnet-4-5-20250929")),
        kv("llm.token_count.prompt", i(45000)),
        kv("llm.token_count.completion", i(700)),
        kv("llm.token_count.prompt_details.cache_read", i(40000)),
        kv("llm.token_count.prompt_details.cache_write", i(3000)),
        kv("llm.token_count.total", i(45700)),
        kv("openinference.span.kind", s("LLM")),
    ]);
    assert_eq!(
        (&*ev.provider, &*ev.model),
        ("anthropic", "claude-sonnet-4-5-20250929")
    );
    assert_eq!(ev.usage.input_tokens, 45000);
    assert_eq!(ev.usage.cached_input_tokens, 40000);
    assert_eq!(ev.usage.cache_write_5m_tokens, 3000);
    assert_eq!(ev.usage.cache_write_1h_tokens, 0);
}

#[test]
fn openinference_wrapper_spans_are_not_model_calls() {
    for kind in [
        "CHAIN",
        "AGENT",
        "TOOL",
        "RETRIEVER",
        "RERANKER",
        "GUARDRAIL",
    ] {
        assert!(
            skipped(vec![
                kv("openinference.span.kind", s(kind)),
                kv("llm.model_name", s("gpt-4o")),
                kv("llm.token_count.prompt", i(5000)),
                kv("llm.token_count.completion", i(100)),
            ]),
            "{kind}"
        );
    }
    let ev = usage(vec![
        kv("openinference.span.kind", s("EMBEDDING")),
        kv("embedding.model_name", s("text-embedding-3-small")),
        kv("llm.token_count.prompt", i(12)),
        kv("llm.token_count.total", i(12)),
    ]);
    assert_eq!(
        (&*ev.model, &*ev.operation, ev.usage.input_tokens),
        ("text-embedding-3-small", "embeddings", 12)
    );
}

#[test]
fn openinference_failed_call_without_tokens_is_an_error_request() {
    let mut sp = span(vec![
        kv("openinference.span.kind", s("LLM")),
        kv("llm.provider", s("openai")),
        kv("llm.model_name", s("gpt-4o")),
    ]);
    sp.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "429".into(),
    });
    let ev = span_usage(&[], &sp, &[]).expect("a failed call");
    assert_eq!(ev.status, Some(CallStatus::Error));
    assert_eq!((ev.usage.requests, ev.usage.input_tokens), (1, 0));
}

#[test]
fn anthropic_sdk_span_splits_one_hour_cache_writes() {
    // The Anthropic SDK's own span (anthropic 2.17): input is inclusive, cache_write is the total.
    let attrs = vec![
        kv("gen_ai.provider.name", s("anthropic")),
        kv("gen_ai.operation.name", s("chat")),
        kv("gen_ai.request.model", s("claude-sonnet-4-5")),
        kv("gen_ai.usage.input_tokens", i(45000)),
        kv("gen_ai.response.id", s("msg_01XF")),
        kv("gen_ai.response.model", s("claude-sonnet-4-5-20250929")),
        kv("gen_ai.usage.cache_write.input_tokens", i(3000)),
        kv("gen_ai.usage.cache_read.input_tokens", i(40000)),
        kv(
            "anthropic.usage.cache_creation.ephemeral_5m_input_tokens",
            i(1000),
        ),
        kv(
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
            i(2000),
        ),
        kv("anthropic.response.service_tier", s("priority")),
        kv("gen_ai.usage.output_tokens", i(700)),
        kv("gen_ai.usage.reasoning.output_tokens", i(300)),
    ];
    assert_eq!(response_id(&attrs).as_deref(), Some("msg_01XF"));
    let ev = usage(attrs.clone());
    let u = &ev.usage;
    assert_eq!((u.input_tokens, u.cached_input_tokens), (45000, 40000));
    assert_eq!(
        (u.cache_write_5m_tokens, u.cache_write_1h_tokens),
        (1000, 2000)
    );
    assert_eq!((u.output_tokens, u.reasoning_tokens), (700, 300));
    assert_eq!(ev.service_tier.as_deref(), Some("priority"));
    // Without the 5-minute figure, the writes not made for an hour are the 5-minute ones.
    let no_5m: Vec<KeyValue> = attrs
        .into_iter()
        .filter(|kv| !kv.key.contains("ephemeral_5m"))
        .collect();
    let u = usage(no_5m).usage;
    assert_eq!(
        (u.cache_write_5m_tokens, u.cache_write_1h_tokens),
        (1000, 2000)
    );
}

#[test]
fn anthropic_sdk_count_tokens_span_is_not_a_call() {
    // `anthropic.messages.count_tokens`: a model and a provider, no operation, no usage; it is free.
    assert!(skipped(vec![
        kv("gen_ai.provider.name", s("anthropic")),
        kv("gen_ai.request.model", s("claude-sonnet-4-5")),
        kv("anthropic.message.count_tokens.input_tokens", i(12)),
    ]));
}

#[test]
fn openllmetry_legacy_names() {
    let ev = usage(vec![
        kv("gen_ai.system", s("Anthropic")),
        kv("llm.request.type", s("completion")),
        kv("gen_ai.request.model", s("claude-2.1")),
        kv("gen_ai.usage.prompt_tokens", i(1500)),
        kv("gen_ai.usage.completion_tokens", i(80)),
        kv("gen_ai.usage.cache_read_input_tokens", i(1000)),
        kv("gen_ai.usage.cache_creation_input_tokens", i(200)),
        kv("llm.usage.total_tokens", i(1580)),
    ]);
    assert_eq!(
        (&*ev.provider, &*ev.operation),
        ("Anthropic", "text_completion")
    );
    let u = &ev.usage;
    assert_eq!((u.input_tokens, u.output_tokens), (1500, 80));
    assert_eq!(
        (u.cached_input_tokens, u.cache_write_5m_tokens),
        (1000, 200)
    );
    // Only a total and the output: the input is the rest.
    let u = usage(vec![
        kv("llm.request.type", s("chat")),
        kv("llm.request.model", s("gpt-4")),
        kv("llm.usage.completion_tokens", i(500)),
        kv("llm.usage.total_tokens", i(1700)),
    ])
    .usage;
    assert_eq!((u.input_tokens, u.output_tokens), (1200, 500));
    // Decorator spans aggregate the calls beneath them.
    for kind in ["workflow", "task", "agent", "tool"] {
        assert!(skipped(vec![
            kv("traceloop.span.kind", s(kind)),
            kv("gen_ai.request.model", s("gpt-4")),
            kv("llm.usage.total_tokens", i(1700)),
        ]));
    }
}

#[test]
fn vercel_inner_call_span_is_priced_and_wrappers_are_not() {
    // ai 6: `ai.generateText.doGenerate` carries gen_ai.* and ai.* for the one provider call.
    let inner = vec![
        kv("ai.operationId", s("ai.generateText.doGenerate")),
        kv("operation.name", s("ai.generateText.doGenerate checkout")),
        kv("ai.model.provider", s("openai.chat")),
        kv("ai.model.id", s("gpt-4o")),
        kv("gen_ai.system", s("openai.chat")),
        kv("gen_ai.request.model", s("gpt-4o")),
        kv("ai.response.model", s("gpt-4o-2024-08-06")),
        kv("gen_ai.response.model", s("gpt-4o-2024-08-06")),
        kv("ai.response.id", s("chatcmpl-1")),
        kv("ai.usage.inputTokens", i(1200)),
        kv("ai.usage.outputTokens", i(300)),
        kv("ai.usage.inputTokenDetails.cacheReadTokens", i(200)),
        kv("ai.usage.outputTokenDetails.reasoningTokens", i(50)),
        kv("gen_ai.usage.input_tokens", i(1200)),
        kv("gen_ai.usage.output_tokens", i(300)),
    ];
    assert_eq!(response_id(&inner).as_deref(), Some("chatcmpl-1"));
    let ev = usage(inner);
    assert_eq!(
        (&*ev.provider, &*ev.model, &*ev.operation),
        ("openai", "gpt-4o-2024-08-06", "chat")
    );
    let u = &ev.usage;
    assert_eq!((u.input_tokens, u.output_tokens), (1200, 300));
    assert_eq!((u.cached_input_tokens, u.reasoning_tokens), (200, 50));
    for wrapper in [
        "ai.generateText",
        "ai.streamText",
        "ai.generateObject",
        "ai.embed",
        "ai.toolCall",
    ] {
        assert!(
            skipped(vec![
                kv("ai.operationId", s(wrapper)),
                kv("ai.model.provider", s("openai.chat")),
                kv("ai.model.id", s("gpt-4o")),
                kv("ai.usage.promptTokens", i(1200)),
                kv("ai.usage.completionTokens", i(300)),
            ]),
            "{wrapper}"
        );
    }
}

#[test]
fn vercel_older_names_providers_and_embeddings() {
    // ai 3/4: promptTokens/completionTokens, no gen_ai.usage.*.
    let ev = usage(vec![
        kv("ai.operationId", s("ai.streamText.doStream")),
        kv("ai.model.provider", s("anthropic.messages")),
        kv("ai.model.id", s("claude-3-5-haiku-latest")),
        kv("ai.usage.promptTokens", i(10)),
        kv("ai.usage.completionTokens", i(20)),
    ]);
    assert_eq!((&*ev.provider, &*ev.operation), ("anthropic", "chat"));
    assert_eq!((ev.usage.input_tokens, ev.usage.output_tokens), (10, 20));
    for (id, provider) in [
        ("amazon-bedrock", "bedrock"),
        ("azure-openai.chat", "azure"),
        ("google.generative-ai", "google"),
        ("mistral.chat", "mistral"),
    ] {
        let ev = usage(vec![
            kv("ai.operationId", s("ai.generateText.doGenerate")),
            kv("ai.model.provider", s(id)),
            kv("ai.model.id", s("m")),
            kv("ai.usage.inputTokens", i(1)),
        ]);
        assert_eq!(&*ev.provider, provider, "{id}");
    }
    let ev = usage(vec![
        kv("ai.operationId", s("ai.embedMany.doEmbed")),
        kv("ai.model.provider", s("openai.embedding")),
        kv("ai.model.id", s("text-embedding-3-small")),
        kv("ai.usage.tokens", i(64)),
    ]);
    assert_eq!(
        (&*ev.provider, &*ev.operation, ev.usage.input_tokens),
        ("openai", "embeddings", 64)
    );
}

#[test]
fn precedence_follows_the_table_not_attribute_order() {
    let ev = usage(vec![
        kv("llm.token_count.prompt", i(999)),
        kv("gen_ai.usage.prompt_tokens", i(555)),
        kv("gen_ai.usage.input_tokens", i(100)),
        kv("llm.model_name", s("other")),
        kv("gen_ai.request.model", s("gpt-4o")),
        kv("gen_ai.openai.request.service_tier", s("auto")),
        kv("gen_ai.response.service_tier", s("flex")),
    ]);
    assert_eq!(ev.usage.input_tokens, 100);
    assert_eq!(&*ev.model, "gpt-4o");
    assert_eq!(ev.service_tier.as_deref(), Some("flex"));
    // An unusable value gives way to the next name instead of hiding it.
    let ev = usage(vec![
        kv("gen_ai.usage.input_tokens", s("lots")),
        kv("gen_ai.usage.prompt_tokens", i(5)),
        kv("gen_ai.response.model", s("")),
        kv("gen_ai.request.model", s("gpt-4o")),
        kv("gen_ai.request.service_tier", s("priority")),
    ]);
    assert_eq!(ev.usage.input_tokens, 5);
    assert_eq!(&*ev.model, "gpt-4o");
    assert_eq!(ev.service_tier.as_deref(), Some("priority"));
}

#[test]
fn only_usage_namespaces_make_a_span_genai() {
    assert!(!is_genai(&[
        kv("http.method", s("GET")),
        kv("aiohttp.x", s("1")),
        kv("llm", s("x")),
        kv("", s("x")),
    ]));
    assert!(is_genai(&[kv("ai.operationId", s("ai.generateText"))]));
    assert!(is_genai(&[kv("llm.token_count.prompt", i(1))]));
    // Provider SDK attributes alone are not a call.
    assert!(skipped(vec![kv(
        "anthropic.response.service_tier",
        s("batch")
    )]));
}
