use super::*;
use serde_json::json;

fn scope() -> Vec<String> {
    vec!["team".into(), "user".into()]
}

fn errors(body: Value) -> Vec<(String, String)> {
    match definition(&body, &scope()) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| (e.field, e.message)).collect(),
    }
}

#[test]
fn a_good_body_compiles_with_its_matchers_as_shape() {
    let body = json!({"name": "search-weekly", "match": {"team": "search"}, "period": "weekly",
                      "limit_usd": 25.5, "thresholds": [0.5, 0.9]});
    let (c, def) = definition(&body, &scope()).expect("valid");
    assert_eq!(c.timezone, "UTC");
    assert_eq!(def.limit_nanos, 25_500_000_000);
    assert_eq!(def.shape_match.as_deref(), Some(r#"{"team":"search"}"#));
    assert_eq!(&*def.thresholds_ppm, &[500_000, 900_000, 1_000_000]);
}

/// Every problem at once, by JSON path, in check-config's words; a field with a type error is
/// reported once (not also as "must be greater than 0").
#[test]
fn a_bad_body_names_every_field() {
    let got = errors(json!({
        "name": "bad name!",
        "match": {"team": 5, "region": "eu"},
        "period": "fortnightly",
        "timezone": "Mars/Olympus",
        "limit_usd": "lots",
        "thresholds": [0.5, 2, "x"],
        "group_by": ["nope"],
        "max_groups": -1,
        "limt_usd": 3
    }));
    let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    for want in [
        "name",
        "match.team",
        "match.region",
        "period",
        "timezone",
        "limit_usd",
        "thresholds[1]",
        "thresholds[2]",
        "group_by[0]",
        "max_groups",
        "limt_usd",
    ] {
        assert!(fields.contains(&want), "{want} missing from {got:?}");
    }
    assert_eq!(fields.iter().filter(|f| **f == "limit_usd").count(), 1);
    let msg = |f: &str| got.iter().find(|(k, _)| k == f).map(|(_, m)| m.clone());
    assert_eq!(
        msg("limt_usd").as_deref(),
        Some("unknown key `limt_usd`; did you mean `limit_usd`?")
    );
    assert!(msg("limit_usd").unwrap().contains("invalid type: string"));
    assert!(msg("thresholds[1]")
        .unwrap()
        .contains("not a ratio in (0, 1]"));
    assert!(msg("period")
        .unwrap()
        .contains("unknown period \"fortnightly\""));
}

#[test]
fn missing_required_fields_and_non_objects_are_named() {
    let got = errors(json!({}));
    let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, vec!["period", "name", "limit_usd"], "{got:?}");
    assert_eq!(errors(json!([1]))[0].0, "");
    assert_eq!(
        errors(json!({"thresholds": 0.5, "name": "a"}))[0].0,
        "thresholds"
    );
}

#[test]
fn fields_are_the_config_entrys_keys() {
    let c = BudgetConfig {
        fleet_query: Some("q".into()),
        ..Default::default()
    };
    let Value::Object(m) = serde_json::to_value(&c).unwrap() else {
        panic!("object")
    };
    let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
    let mut fields = FIELDS.to_vec();
    keys.sort_unstable();
    fields.sort_unstable();
    assert_eq!(keys, fields);
}

#[test]
fn names_are_label_and_path_safe() {
    assert!(check_name("team-search_2026.q1").is_ok());
    for bad in ["", "-x", ".x", "a/b", "a b", "é", "a%2Fb", &"x".repeat(65)] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
}

fn stored(def: Value) -> Stored {
    Stored {
        v: STORED_FORMAT,
        definition: def,
        version: 1,
        created_at: 0,
        created_by: "ops".into(),
        updated_at: 0,
        updated_by: "ops".into(),
        unreadable: None,
    }
}

#[test]
fn merge_shadows_config_names_and_keeps_invalid_definitions_out() {
    let mut issues = Issues::default();
    let config = crate::derive::budget::compile_all(
        &[BudgetConfig {
            name: "cfg".into(),
            period: "daily".into(),
            limit_usd: 1.0,
            ..Default::default()
        }],
        &scope(),
        "budgets",
        &mut issues,
    );
    assert!(issues.is_empty());
    let mut api = BTreeMap::new();
    api.insert(
        "cfg".to_string(),
        stored(json!({"name": "cfg", "period": "daily", "limit_usd": 9})),
    );
    api.insert(
        "ok".to_string(),
        stored(json!({"name": "ok", "period": "monthly", "limit_usd": 9})),
    );
    // Stored by an older meterd that knew a period this one does not.
    api.insert(
        "old".to_string(),
        stored(json!({"name": "old", "period": "fortnightly", "limit_usd": 9})),
    );
    api.insert("junk".to_string(), decode(b"\x00not json"));
    let m = merge(&config, &api, &scope());
    let names: Vec<&str> = m.defs.iter().map(|d| &*d.name).collect();
    assert_eq!(names, vec!["cfg", "ok"]);
    assert!(m.defs[0].shape_match.is_none() && m.defs[1].shape_match.is_some());
    assert_eq!(m.states["cfg"], State::Shadowed);
    assert_eq!(m.states["ok"], State::Active);
    assert!(matches!(&m.states["old"], State::Invalid(e) if e[0].field == "period"));
    assert!(matches!(&m.states["junk"], State::Invalid(e) if e[0].message.contains("undecodable")));
}

#[test]
fn stored_records_round_trip_and_unreadable_ones_are_kept() {
    let s = stored(json!({"name": "a"}));
    assert_eq!(decode(&encode(&s)), s);
    let mut future = s.clone();
    future.v = 9;
    let d = decode(&encode(&future));
    assert!(d.unreadable.unwrap().contains("stored format 9"));
}

#[test]
fn if_match_is_strong_and_optional() {
    assert!(if_match_allows(None, 3));
    assert!(if_match_allows(Some("*"), 3));
    assert!(if_match_allows(Some("\"3\""), 3));
    assert!(if_match_allows(Some("\"1\", \"3\""), 3));
    assert!(!if_match_allows(Some("\"2\""), 3));
    assert!(!if_match_allows(Some("W/\"3\""), 3));
    assert!(!if_match_allows(Some("3"), 3));
    assert!(!if_match_allows(Some(""), 3));
    assert_eq!(etag(7), "\"7\"");
}

/// README's "Budgets over the API" shows this answer word for word.
#[test]
fn the_readme_example_answers_as_documented() {
    let got =
        errors(json!({"name": "x", "period": "daily", "limt_usd": 5, "thresholds": [0.5, 3]}));
    let want: Vec<(String, String)> = [
        (
            "limt_usd",
            "unknown key `limt_usd`; did you mean `limit_usd`?",
        ),
        ("limit_usd", "must be greater than 0 and at most 1000000000"),
        ("thresholds[1]", "3 is not a ratio in (0, 1]"),
    ]
    .iter()
    .map(|(f, m)| (f.to_string(), m.to_string()))
    .collect();
    assert_eq!(got, want);
}
