use super::super::{parse_str_unchecked_tags, Sample, Warnings};
use super::*;
use proptest::prelude::*;

#[test]
fn takes_the_common_shapes() {
    for (line, name, kind, value, raw) in [
        ("a.b:1|c", "a.b", MetricType::Counter, "1", None),
        (
            "a:12.5|ms|#route:/x,status:200",
            "a",
            MetricType::Timer,
            "12.5",
            Some("route:/x,status:200"),
        ),
        ("g:-3|g|#", "g", MetricType::Gauge, "-3", Some("")),
        (
            "s:user42|s|#k:v",
            "s",
            MetricType::Set,
            "user42",
            Some("k:v"),
        ),
        (
            "a]b:1|d|#k",
            "a]b",
            MetricType::Distribution,
            "1",
            Some("k"),
        ),
    ] {
        let s = simple(line).unwrap_or_else(|| panic!("{line}: not taken"));
        let tags = raw.map_or(Tags::NONE, |raw| Tags {
            style: TagStyle::DogStatsd,
            raw,
        });
        assert_eq!(
            (s.name, s.kind, s.value_text, s.tags),
            (name, kind, value, tags),
            "{line}"
        );
    }
}

#[test]
fn leaves_every_other_shape_to_the_full_parse() {
    for line in [
        "a:1|c|@0.5",
        "a:1|c|T123",
        "a:1|c|",
        "a:1:2|ms",
        "a:1|c:2|c",
        "a:1|x",
        "a:1|",
        "a:|c",
        ":1|c",
        "a:1",
        "a",
        "a,k=v:1|c",
        "a#k=v:1|c",
        "a[k=v]:1|c",
        "_e{1,1}:a|b",
        "_sc|a|0",
    ] {
        assert_eq!(simple(line), None, "{line}");
    }
}

/// A field after the tags stays in the tag text, where its `|` keeps the line from matching any
/// tag text the full parse gives.
#[test]
fn a_field_after_the_tags_stays_in_the_tag_text() {
    for (line, raw) in [
        ("a:1|c|#k:v|@0.5", "k:v|@0.5"),
        ("a:1|c|#k:v|c:id", "k:v|c:id"),
        ("a:1|c|#k:v|", "k:v|"),
        ("a:1|c|#k:v#x|y", "k:v#x|y"),
    ] {
        let s = simple(line).unwrap_or_else(|| panic!("{line}: not taken"));
        assert_eq!(s.tags.raw(), raw, "{line}");
        assert_ne!(
            parse_str_unchecked_tags(line).map(|l| l.tags).ok(),
            Some(s.tags)
        );
    }
}

/// Lines built from the bytes that steer the grammar, so that every branch is reached often.
fn hostile_line() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_string()),
        Just("b.c".to_string()),
        Just(":".to_string()),
        Just("|".to_string()),
        Just("|#".to_string()),
        Just("#".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("@".to_string()),
        Just("|@0.5".to_string()),
        Just("T".to_string()),
        Just("|c:".to_string()),
        Just("_e{".to_string()),
        Just("_sc|".to_string()),
        Just("\u{e9}".to_string()),
        "(c|g|ms|h|d|s|x)".prop_map(|s| s),
        "[+-]?[0-9]{0,17}(\\.[0-9]{0,3})?(e[0-9])?".prop_map(|s| s),
        Just("NaN".to_string()),
        Just("inf".to_string()),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
        // The simple shape itself, with hostile parts.
        (
            "[a-z.\\]]{0,6}",
            "[-+0-9.a-z:]{0,6}",
            "(c|g|ms|h|d|s|x|)",
            "(|\\|#[a-z:,#|@=]{0,10})"
        )
            .prop_map(|(n, v, t, tags)| format!("{n}:{v}|{t}{tags}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]
    /// Whenever the simple shape takes a line, the full parse reads it as one sample of that
    /// type, that value (or the same error), rate 1, no timestamp or container, those tags and
    /// no warnings.
    #[test]
    fn the_simple_shape_agrees_with_the_full_parse(line in hostile_line()) {
        let Some(s) = simple(&line) else {
            return Ok(());
        };
        let full = parse_str_unchecked_tags(&line);
        if s.tags.raw().contains('|') {
            // Not the simple shape after all: the full parse's tags (if any) are never these.
            prop_assert_ne!(full.map(|l| l.tags).ok(), Some(s.tags));
            return Ok(());
        }
        match s.value() {
            Err(e) => prop_assert_eq!(full, Err(e)),
            Ok(value) => {
                let full = full.map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
                prop_assert_eq!(&*full.name, s.name);
                prop_assert_eq!(full.tags, s.tags);
                prop_assert_eq!(full.warnings, Warnings::NONE);
                let samples: Vec<Sample<'_>> = full.samples().copied().collect();
                let one = Sample { kind: s.kind, value, rate: 1.0, timestamp: None, container: None };
                prop_assert_eq!(samples, vec![one]);
            }
        }
    }
}
