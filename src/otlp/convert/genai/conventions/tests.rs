use super::*;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, KeyValue};

const BEGIN: &str =
    "<!-- genai-attributes:begin (rendered from src/otlp/convert/genai/conventions.rs) -->\n";
const END: &str = "<!-- genai-attributes:end -->";

#[test]
fn readme_lists_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let expected = render_markdown();
    let block = readme
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(block, _)| block);
    assert!(
        block == Some(expected.as_str()),
        "README.md's attribute list differs from conventions::TABLE; put this between its markers:\n\
         {BEGIN}{expected}{END}"
    );
}

#[test]
fn every_field_has_one_row_and_every_name_one_field() {
    for f in 0..FIELDS {
        let rows = TABLE.iter().filter(|r| r.field as usize == f).count();
        assert_eq!(rows, 1, "field #{f}");
    }
    let mut seen = std::collections::HashSet::new();
    for row in TABLE {
        assert!(!row.names.is_empty(), "{:?}", row.field);
        for (name, _) in row.names {
            assert!(seen.insert(*name), "{name} appears twice");
            assert!(
                may_be_named(name),
                "{name} is outside the pre-filtered namespaces"
            );
        }
    }
    assert_eq!(INDEX.iter().map(Vec::len).sum::<usize>(), seen.len());
    for row in TABLE {
        for (rank, (name, _)) in row.names.iter().enumerate() {
            assert_eq!(lookup(name), Some((*name, row.field, rank as u8)));
            assert_eq!(lookup(&name[..name.len() - 1]), None, "{name}");
        }
    }
    assert_eq!(lookup(""), None);
    assert_eq!(lookup(&"g".repeat(500)), None);
}

#[test]
fn counts_and_text_read_in_one_pass() {
    let kv = |k: &str, v: Value| KeyValue {
        key: k.into(),
        value: Some(opentelemetry_proto::tonic::common::v1::AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let attrs = [
        kv("gen_ai.usage.output_tokens", Value::DoubleValue(5.0)),
        kv("gen_ai.usage.input_tokens", Value::IntValue(-3)),
        kv(
            "gen_ai.usage.prompt_tokens",
            Value::StringValue(" 8 ".into()),
        ),
        kv("gen_ai.request.model", Value::IntValue(4)),
    ];
    let f = Found::read(&attrs);
    assert_eq!(f.count(Field::Output), Some(5));
    assert_eq!(f.count(Field::Input), Some(8));
    assert_eq!(f.source(Field::Input), Some("gen_ai.usage.prompt_tokens"));
    assert_eq!(f.text(Field::Model).as_deref(), Some("4"));
    assert_eq!(f.count(Field::Model), None);
    assert!(!f.has(Field::Provider));
}

#[test]
fn vercel_provider_ids() {
    assert_eq!(vercel_provider("openai.responses"), "openai");
    assert_eq!(vercel_provider("xai.chat"), "xai");
    assert_eq!(vercel_provider("amazon-bedrock"), "bedrock");
    assert_eq!(vercel_provider(""), "");
}
