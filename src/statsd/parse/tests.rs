use super::*;
use proptest::prelude::*;

/// A sample flattened for comparison: (type, value, rate).
type Flat = (&'static str, String, f64);

fn flat(line: &Line<'_>) -> Vec<Flat> {
    line.samples()
        .map(|s| {
            let v = match s.value {
                Value::Number(n) => format!("{n}"),
                Value::Delta(d) => format!("{d:+}"),
                Value::Member(m) => format!("member:{m}"),
            };
            (s.kind.as_str(), v, s.rate)
        })
        .collect()
}

fn ok(input: &str) -> Line<'_> {
    parse_line(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn tags(line: &Line<'_>) -> Vec<(String, String)> {
    line.tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn types_values_and_rates() {
    let cases: &[(&str, &str, &str, &[Flat])] = &[
        ("counter", "a.b:1|c", "a.b", &[("c", s("1"), 1.0)]),
        ("counter float", "a:2.5|c", "a", &[("c", s("2.5"), 1.0)]),
        ("counter exponent", "a:1e3|c", "a", &[("c", s("1000"), 1.0)]),
        ("counter sampled", "a:1|c|@0.1", "a", &[("c", s("1"), 0.1)]),
        ("gauge absolute", "g:20|g", "g", &[("g", s("20"), 1.0)]),
        ("gauge plus delta", "g:+3|g", "g", &[("g", s("+3"), 1.0)]),
        ("gauge minus delta", "g:-5|g", "g", &[("g", s("-5"), 1.0)]),
        (
            "gauge rate ignored later",
            "g:1|g|@0.5",
            "g",
            &[("g", s("1"), 0.5)],
        ),
        ("timer", "t:250|ms", "t", &[("ms", s("250"), 1.0)]),
        (
            "timer sampled",
            "t:250|ms|@0.25",
            "t",
            &[("ms", s("250"), 0.25)],
        ),
        ("histogram", "h:3|h", "h", &[("h", s("3"), 1.0)]),
        ("histogram negative", "h:-3|h", "h", &[("h", s("-3"), 1.0)]),
        ("distribution", "d:0.5|d", "d", &[("d", s("0.5"), 1.0)]),
        ("set", "u:alice|s", "u", &[("s", s("member:alice"), 1.0)]),
        (
            "set member with colon",
            "u:a:b|s",
            "u",
            &[("s", s("member:a:b"), 1.0)],
        ),
        (
            "etsy multi-metric",
            "a:1|c:2|c",
            "a",
            &[("c", s("1"), 1.0), ("c", s("2"), 1.0)],
        ),
        (
            "multi-metric mixed types and rates",
            "a:1|c|@0.5:7|g",
            "a",
            &[("c", s("1"), 0.5), ("g", s("7"), 1.0)],
        ),
        (
            "packed values",
            "a:1:2:3|ms",
            "a",
            &[
                ("ms", s("1"), 1.0),
                ("ms", s("2"), 1.0),
                ("ms", s("3"), 1.0),
            ],
        ),
        (
            "packed values sampled",
            "a:1:2|d|@0.5",
            "a",
            &[("d", s("1"), 0.5), ("d", s("2"), 0.5)],
        ),
        (
            "unknown extension field",
            "a:1|c|e:abc",
            "a",
            &[("c", s("1"), 1.0)],
        ),
        ("rate of one", "a:1|c|@1", "a", &[("c", s("1"), 1.0)]),
        (
            "dogstatsd 1.4 cardinality and external data",
            "a:1|c|#k:v|c:abc|e:it-false|card:low",
            "a",
            &[("c", s("1"), 1.0)],
        ),
    ];
    for (name, input, want_name, want) in cases {
        let line = ok(input);
        assert_eq!(line.name, *want_name, "{name}");
        assert_eq!(flat(&line), *want, "{name}: {input}");
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn tag_styles() {
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        TagStyle,
        &'a [(&'a str, &'a str)],
    );
    let cases: &[Case] = &[
        (
            "dogstatsd",
            "a:1|c|#k:v,k2:v2",
            "a",
            TagStyle::DogStatsd,
            &[("k", "v"), ("k2", "v2")],
        ),
        (
            "dogstatsd value with colon",
            "a:1|c|#url:http://x:80",
            "a",
            TagStyle::DogStatsd,
            &[("url", "http://x:80")],
        ),
        (
            "dogstatsd bare tag",
            "a:1|c|#urgent,k:v",
            "a",
            TagStyle::DogStatsd,
            &[("urgent", ""), ("k", "v")],
        ),
        (
            "dogstatsd with rate first",
            "a:1|c|@0.5|#k:v",
            "a",
            TagStyle::DogStatsd,
            &[("k", "v")],
        ),
        (
            "dogstatsd tags then container and timestamp",
            "a:1|c|#k:v|c:abc123|T1656581400",
            "a",
            TagStyle::DogStatsd,
            &[("k", "v")],
        ),
        (
            "influx",
            "a.b,k=v,k2=v2:1|c",
            "a.b",
            TagStyle::Influx,
            &[("k", "v"), ("k2", "v2")],
        ),
        (
            "librato",
            "a.b#k=v,k2=v2:1|c",
            "a.b",
            TagStyle::Librato,
            &[("k", "v"), ("k2", "v2")],
        ),
        (
            "signalfx",
            "a.b[k=v,k2=v2]:1|c",
            "a.b",
            TagStyle::SignalFx,
            &[("k", "v"), ("k2", "v2")],
        ),
        (
            "signalfx mid-name",
            "a.[k=v]b:1|c",
            "a.b",
            TagStyle::SignalFx,
            &[("k", "v")],
        ),
        ("no tags", "a:1|c", "a", TagStyle::None, &[]),
    ];
    for (name, input, want_name, style, want) in cases {
        let line = ok(input);
        assert_eq!(line.name, *want_name, "{name}");
        assert_eq!(line.tags.style, *style, "{name}");
        let want: Vec<(String, String)> = want.iter().map(|(k, v)| (s(k), s(v))).collect();
        assert_eq!(tags(&line), want, "{name}");
    }
}

#[test]
fn dogstatsd_container_and_timestamp_are_accepted() {
    let line = ok("a:1|c|c:abc|T1656581400|#k:v");
    let sample = line.samples().next().expect("sample");
    assert_eq!(sample.container, Some("abc"));
    assert_eq!(sample.timestamp, Some(1656581400));
    assert_eq!(line.tags.get("k"), Some("v"));
}

/// Lines statsd_exporter keeps despite a malformed part: kept here too, with the warning that a
/// strict caller (the llm.* convention) turns into a refusal.
#[test]
fn tolerated_lines_are_kept_with_a_warning() {
    type Case<'a> = (&'a str, &'a str, &'a str, f64, Option<Warning>);
    let cases: &[Case] = &[
        ("rate text", "a:1|c|@bar", "a", 1.0, Some(Warning::BadRate)),
        ("rate zero", "a:2|c|@0", "a", 1.0, Some(Warning::BadRate)),
        ("rate empty", "a:1|c|@", "a", 1.0, Some(Warning::BadRate)),
        ("rate good", "a:1|c|@0.5", "a", 0.5, None),
        (
            "timestamp text",
            "a:1|c|Tnot-a-ts",
            "a",
            1.0,
            Some(Warning::BadTimestamp),
        ),
        (
            "timestamp empty",
            "a:1|c|#k:v|T",
            "a",
            1.0,
            Some(Warning::BadTimestamp),
        ),
        ("signalfx no tags", "foo.[]test:1|c", "foo.test", 1.0, None),
        (
            "signalfx non-kv tags",
            "foo.[tag1,tag2]test:1|c",
            "foo.test",
            1.0,
            Some(Warning::BadTag),
        ),
        (
            "signalfx missing ]",
            "[tag1=bar,tag2=bazfoo.test:1|c",
            "[tag1=bar,tag2=bazfoo.test",
            1.0,
            Some(Warning::UnpairedBracket),
        ),
        (
            "signalfx missing [",
            "tag1=bar,tag2=baz]foo.test:1|c",
            "tag1=bar,tag2=baz]foo.test",
            1.0,
            Some(Warning::UnpairedBracket),
        ),
    ];
    for (name, input, want_name, want_rate, want_warning) in cases {
        let line = ok(input);
        assert_eq!(line.name, *want_name, "{name}");
        let sample = line.samples().next().expect("a sample");
        assert_eq!(sample.rate, *want_rate, "{name}");
        assert_eq!(line.warnings.iter().next(), *want_warning, "{name}");
        assert_eq!(
            line.warnings.strict_error(),
            want_warning.map(Warning::strict),
            "{name}"
        );
        if *want_warning == Some(Warning::BadTag) || *want_warning == Some(Warning::UnpairedBracket)
        {
            assert_eq!(tags(&line), Vec::<(String, String)>::new(), "{name}");
        }
    }
}

#[test]
fn signalfx_keeps_good_tags_beside_dropped_ones() {
    let line = ok("a.[k=v,bare,=x]b:1|c");
    assert_eq!(line.name, "a.b");
    assert_eq!(tags(&line), vec![(s("k"), s("v"))]);
    assert_eq!(
        line.warnings.iter().collect::<Vec<_>>(),
        vec![Warning::BadTag]
    );
}

#[test]
fn dogstatsd_hash_on_every_key_is_not_part_of_the_name() {
    // As the Datadog PHP client sends them.
    let line = ok("foo:100|c|#tag1:bar,#tag2:baz");
    assert_eq!(
        tags(&line),
        vec![(s("tag1"), s("bar")), (s("tag2"), s("baz"))]
    );
    assert_eq!(line.tags.get("tag2"), Some("baz"));
    // The field marker and one `#` per key are markers, as statsd_exporter reads them; a second `#`
    // on a key is the sender's.
    let line = ok("foo:1|c|##k:v,##j:w");
    assert_eq!(tags(&line), vec![(s("k"), s("v")), (s("#j"), s("w"))]);
    // Librato keys keep theirs: only DogStatsD clients prefix keys.
    assert_eq!(
        parse_line(b"foo#k=v,#j=w:1|c").map(|l| tags(&l)).ok(),
        Some(vec![(s("k"), s("v")), (s("#j"), s("w"))])
    );
}

#[test]
fn container_id_is_kept_whole() {
    let line = ok("foo:100|c|#tag1:value|c:sha256:abcd1234");
    let sample = line.samples().next().expect("sample");
    assert_eq!(sample.container, Some("sha256:abcd1234"));
    let line = ok("requests:100|c|@0.1|#service:web|c:abc123|T1656581400");
    let sample = line.samples().next().expect("sample");
    assert_eq!((sample.container, sample.rate), (Some("abc123"), 0.1));
    assert!(line.warnings.is_empty());
}

#[test]
fn malformed_lines_are_rejected_with_a_reason() {
    let cases: &[(&str, &[u8], ParseError)] = &[
        (
            "no colon",
            b"bad line without type",
            ParseError::MissingValue,
        ),
        ("empty value", b"a:", ParseError::MissingValue),
        ("empty name", b":1|c", ParseError::EmptyName),
        ("no type", b"a:1", ParseError::MissingType),
        ("empty type", b"a:1|", ParseError::MissingType),
        (
            "empty type before field",
            b"a:1||@0.5",
            ParseError::MissingType,
        ),
        ("unknown type", b"a:1|x", ParseError::BadType),
        ("type case", b"a:1|C", ParseError::BadType),
        ("not a number", b"a:abc|c", ParseError::BadValue),
        ("empty value before type", b"a:|c", ParseError::MissingValue),
        ("empty packed value", b"a:1::2|ms", ParseError::BadValue),
        ("hex", b"a:0x10|c", ParseError::BadValue),
        ("space in value", b"a: 1|c", ParseError::BadValue),
        ("NaN", b"a:NaN|g", ParseError::NonFinite),
        ("inf", b"a:inf|ms", ParseError::NonFinite),
        ("-Infinity", b"a:-Infinity|h", ParseError::NonFinite),
        ("overflow", b"a:1e400|c", ParseError::NonFinite),
        ("negative counter", b"a:-1|c", ParseError::NegativeCounter),
        ("rate negative", b"a:1|c|@-0.5", ParseError::BadRate),
        ("rate above one", b"a:1|c|@1.5", ParseError::BadRate),
        ("rate NaN", b"a:1|c|@NaN", ParseError::BadRate),
        ("rate infinite", b"a:1|c|@inf", ParseError::BadRate),
        ("trailing empty field", b"a:1|c|", ParseError::EmptyField),
        (
            "empty field between",
            b"a:1|c||@0.5",
            ParseError::EmptyField,
        ),
        (
            "empty field after tags",
            b"a:1|c|#k:v|",
            ParseError::EmptyField,
        ),
        (
            "container without colon",
            b"a:1|c|c",
            ParseError::BadContainerId,
        ),
        (
            "container empty",
            b"a:1|c|#k:v|c:",
            ParseError::BadContainerId,
        ),
        (
            "container empty then field",
            b"a:1|c|c:|T1",
            ParseError::BadContainerId,
        ),
        (
            "packed counter",
            b"a:0.5:120:3000|c",
            ParseError::MultiValueType,
        ),
        ("packed gauge", b"a:1:2|g|#k:v", ParseError::MultiValueType),
        (
            "packed counter with signalfx tags",
            b"a.[k=v]b:1:2|c",
            ParseError::MultiValueType,
        ),
        ("empty set member", b"a:|s", ParseError::MissingValue),
        ("invalid utf-8", b"a\xff:1|c", ParseError::InvalidUtf8),
        (
            "invalid utf-8 in tag",
            b"a:1|c|#k:\xc3",
            ParseError::InvalidUtf8,
        ),
        (
            "dogstatsd tag without name",
            b"a:1|c|#:v",
            ParseError::BadTags,
        ),
        (
            "two dogstatsd tag fields",
            b"a:1|c|#k:v|#k2:v",
            ParseError::BadTags,
        ),
        ("influx tag without =", b"a,k:1|c", ParseError::BadTags),
        ("librato tag without name", b"a#=v:1|c", ParseError::BadTags),
        (
            "influx and dogstatsd",
            b"a,k=v:1|c|#k2:v2",
            ParseError::MixedTagStyles,
        ),
        (
            "librato and dogstatsd",
            b"a#k=v:1|c|#k2:v2",
            ParseError::MixedTagStyles,
        ),
        (
            "signalfx and dogstatsd",
            b"a[k=v]:1|c|#k2:v2",
            ParseError::MixedTagStyles,
        ),
        (
            "influx and librato",
            b"a,k=v#k2=v2:1|c",
            ParseError::MixedTagStyles,
        ),
        (
            "signalfx and influx",
            b"a,x=y[k=v]:1|c",
            ParseError::MixedTagStyles,
        ),
        ("event", b"_e{5,4}:title|text", ParseError::Unsupported),
        ("service check", b"_sc|redis|0", ParseError::Unsupported),
        ("bad second sample", b"a:1|c:x|c", ParseError::BadValue),
    ];
    for (name, input, want) in cases {
        assert_eq!(parse_line(input).err(), Some(*want), "{name}");
    }
}

#[test]
fn every_reason_is_distinct_snake_case() {
    let all = [
        ParseError::EmptyName,
        ParseError::MissingValue,
        ParseError::MissingType,
        ParseError::BadType,
        ParseError::BadValue,
        ParseError::NonFinite,
        ParseError::NegativeCounter,
        ParseError::BadRate,
        ParseError::BadTimestamp,
        ParseError::BadTags,
        ParseError::MixedTagStyles,
        ParseError::LineTooLong,
        ParseError::InvalidUtf8,
        ParseError::Unsupported,
        ParseError::MultiValueType,
        ParseError::BadContainerId,
        ParseError::EmptyField,
    ];
    let mut reasons: Vec<&str> = all.iter().map(|e| e.reason()).collect();
    assert!(reasons.iter().all(|r| r
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
    reasons.sort();
    reasons.dedup();
    assert_eq!(reasons.len(), all.len());
}

#[test]
fn packet_splits_into_trimmed_non_empty_lines() {
    let packet = b"a:1|c\r\n\n  b:2|g  \nc:3|ms";
    let got: Vec<&[u8]> = lines(packet).collect();
    assert_eq!(got, vec![&b"a:1|c"[..], b"b:2|g", b"c:3|ms"]);
}

#[test]
fn gauge_multibyte_utf8_name_is_fine_and_bad_utf8_is_error_not_panic() {
    assert_eq!(ok("température:1|g").name, "température");
    assert_eq!(
        parse_line("é".as_bytes().split_at(1).0).err(),
        Some(ParseError::InvalidUtf8)
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_line(&bytes);
        for l in lines(&bytes) {
            let _ = parse_line(l);
        }
    }

    #[test]
    fn statsd_shaped_text_never_panics(text in "[a-z.,#=\\[\\]:|@0-9eT+-]{0,64}") {
        if let Ok(line) = parse_line(text.as_bytes()) {
            for s in line.samples() {
                prop_assert!(s.rate > 0.0 && s.rate <= 1.0);
                if let Value::Number(n) | Value::Delta(n) = s.value {
                    prop_assert!(n.is_finite());
                }
            }
            let _ = line.tags.iter().count();
        }
    }
}

#[test]
fn simple_decimals_parse_exactly_as_from_str() {
    for text in [
        "0",
        "1",
        "12.5",
        "0.25",
        "3.14159",
        "999999999999999",
        "0.00000000000001",
        "1.5",
        "123456789.012345",
        "0.1",
        "0.3",
        "2.675",
        "100",
        "007",
    ] {
        assert_eq!(parse_simple_decimal(text), text.parse().ok(), "{text}");
    }
    for text in [
        "",
        ".5",
        "5.",
        "1.2.3",
        "-1",
        "+1",
        "1e3",
        "inf",
        "NaN",
        "1_0",
        "9999999999999999",
        "0.000000000000001",
        "12345678901234567",
    ] {
        assert_eq!(parse_simple_decimal(text), None, "{text}");
    }
}

proptest! {
    #[test]
    fn simple_decimal_fast_path_agrees_with_from_str(text in "[0-9]{1,12}(\\.[0-9]{1,10})?") {
        let fast = parse_simple_decimal(&text);
        if let Some(v) = fast {
            prop_assert_eq!(Some(v), text.parse::<f64>().ok());
        }
        prop_assert_eq!(parse_number(&text).ok(), text.parse::<f64>().ok());
    }
}

proptest! {
    /// A receiver that checked a datagram's UTF-8 once reads the same lines as one that splits
    /// the bytes: blank lines, `\r\n`, surrounding blanks and multibyte text alike.
    #[test]
    fn str_lines_are_the_byte_lines_of_valid_text(
        text in "([a-z:|#,.\u{e9}\u{1F600}]{0,12}[ \t\r]{0,2}\n?){0,8}"
    ) {
        let from_str: Vec<&[u8]> = str_lines(&text).map(str::as_bytes).collect();
        let from_bytes: Vec<&[u8]> = lines(text.as_bytes()).collect();
        prop_assert_eq!(from_str, from_bytes);
    }
}

#[test]
fn a_checked_line_parses_as_its_bytes_do() {
    for line in [
        "a.b:1|c|#k:v",
        "caf\u{e9}:2|g",
        "x:1:2|ms|@0.5",
        "bad",
        "a:1|c|#k:v|c:id",
    ] {
        assert_eq!(
            parse_str_unchecked_tags(line),
            parse_line_unchecked_tags(line.as_bytes())
        );
    }
}
