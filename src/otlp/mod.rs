//! OTLP, the pure part: [`convert`] translates export requests into samples (per the OTel
//! "Prometheus and OpenMetrics compatibility" spec), usage events (GenAI spans or token metrics)
//! and quality events (`gen_ai.evaluation.result` log events). The servers that receive them are
//! `receivers::otlp`.

pub mod convert;
pub mod lenient;
pub mod view;
pub mod wire;

pub use crate::config::otlp::{OtlpConfig, UsageSource};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{load_config, load_str};
    use crate::config::Config;

    #[test]
    fn shipped_config_documents_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
        let config = load_config(&path).expect("config/meterd.yaml loads");
        assert_eq!(config.otlp, OtlpConfig::default());
    }

    #[test]
    fn every_bad_value_is_reported_with_its_place() {
        let yaml = "otlp:\n  usage_source: logs\n";
        let err = load_str::<Config>(yaml, "t.yaml", &|_| None).expect_err("bad enum");
        assert!(err.to_string().contains("t.yaml:2"), "{err}");
        let yaml = "otlp:\n  max_items_per_request: 0\n  max_concurrent_requests: 0\n  \
                    resource_attributes_as_labels: ['']\n  stage_attribute: ' '\n  typo: 1\n";
        let err = load_str::<Config>(yaml, "t.yaml", &|_| None)
            .expect_err("invalid")
            .to_string();
        for want in [
            "otlp.max_items_per_request",
            "otlp.max_concurrent_requests",
            "otlp.resource_attributes_as_labels[0]",
            "otlp.stage_attribute",
            "unknown key `typo`",
        ] {
            assert!(err.contains(want), "{want} not in {err}");
        }
        let ok = load_str::<Config>("otlp:\n  usage_source: metrics\n", "t.yaml", &|_| None)
            .expect("valid");
        assert_eq!(ok.otlp.usage_source, UsageSource::Metrics);
        assert_eq!(ok.otlp.stage_attribute.as_deref(), Some("stage"));
        let off = load_str::<Config>("otlp:\n  stage_attribute: null\n", "t.yaml", &|_| None)
            .expect("valid");
        assert_eq!(off.otlp.stage_attribute, None);
        let renamed =
            load_str::<Config>("otlp:\n  stage_attribute: app.stage\n", "t.yaml", &|_| None)
                .expect("valid");
        assert_eq!(renamed.otlp.stage_attribute.as_deref(), Some("app.stage"));
    }
}
