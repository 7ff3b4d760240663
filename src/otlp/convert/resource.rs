//! Labels that come from where a metric was produced: the resource (`job`, `instance`, promoted
//! attributes, `target_info`) and the instrumentation scope (`otel_scope_name`/`_version`).

use super::attrs::Attribute;
use crate::model::Labels;
use crate::names::sanitize_label_name;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use std::borrow::Cow;

/// Attributes that identify the target (`job`, `instance`) and so are not repeated on
/// `target_info`.
const IDENTIFYING: [&str; 3] = ["service.name", "service.namespace", "service.instance.id"];

/// `job` from `service.namespace/service.name`, `instance` from `service.instance.id`.
pub fn job_instance(resource: &[KeyValue]) -> Vec<(String, String)> {
    let get = |k: &str| super::attrs::get_str(resource, k);
    let mut out = Vec::with_capacity(2);
    if let Some(name) = get("service.name") {
        let job = match get("service.namespace") {
            Some(ns) => format!("{ns}/{name}"),
            None => name.into_owned(),
        };
        out.push(("job".to_owned(), job));
    }
    if let Some(id) = get("service.instance.id") {
        out.push(("instance".to_owned(), id.into_owned()));
    }
    out
}

/// Attribute pairs with Prometheus-valid names. Keys that collide after sanitizing (`a.b` and
/// `a_b`) are merged with their values joined by `;` in key order, as the spec asks, so neither
/// value is silently lost.
pub fn sanitized(attrs: &[KeyValue]) -> Vec<(String, String)> {
    sanitized_borrowed(attrs)
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// [`sanitized`] borrowing what needs no change (valid names, string values): most of a data
/// point's labels, which are looked up far more often than they create a series.
pub fn sanitized_borrowed<A: Attribute>(attrs: &[A]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let mut v: Vec<(Cow<'_, str>, &str, Cow<'_, str>)> = attrs
        .iter()
        .filter_map(|kv| {
            let text = kv.text()?;
            Some((sanitize_label_name(kv.key()), kv.key(), text))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    let mut out: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(v.len());
    for (name, _, value) in v {
        match out.last_mut() {
            Some(last) if last.0 == name => {
                if !value.is_empty() {
                    let joined = last.1.to_mut();
                    if !joined.is_empty() {
                        joined.push(';');
                    }
                    joined.push_str(&value);
                }
            }
            _ => out.push((name, value)),
        }
    }
    out
}

/// [`sanitized_borrowed`] without allocating, for the usual point: every name already valid,
/// every value text, no name twice. Writes the pairs (in the sender's order) to the front of `buf`
/// and returns how many; `None` when the point needs the general path or does not fit.
pub fn sanitized_plain<'a, A: Attribute>(
    attrs: &'a [A],
    buf: &mut [(&'a str, &'a str)],
) -> Option<usize> {
    let mut n = 0;
    for kv in attrs {
        let Some(text) = kv.text() else {
            continue;
        };
        let (Cow::Borrowed(name), Cow::Borrowed(value)) = (sanitize_label_name(kv.key()), text)
        else {
            return None;
        };
        // A repeated name merges its values in the general path.
        if buf[..n].iter().any(|(k, _)| *k == name) {
            return None;
        }
        *buf.get_mut(n)? = (name, value);
        n += 1;
    }
    Some(n)
}

/// Labels every metric of one resource+scope carries.
pub fn common_labels(
    resource: &[KeyValue],
    scope: Option<&InstrumentationScope>,
    promote: &[String],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !promote.is_empty() {
        let chosen: Vec<KeyValue> = resource
            .iter()
            .filter(|kv| promote.contains(&kv.key))
            .cloned()
            .collect();
        out.extend(sanitized(&chosen));
    }
    if let Some(s) = scope {
        if !s.name.is_empty() {
            out.push(("otel_scope_name".to_owned(), s.name.clone()));
        }
        if !s.version.is_empty() {
            out.push(("otel_scope_version".to_owned(), s.version.clone()));
        }
    }
    out.extend(job_instance(resource));
    out
}

/// `target_info{job, instance, <other resource attributes>} 1`, or `None` when the resource has
/// nothing beyond its identity.
pub fn target_info(resource: &[KeyValue]) -> Option<Labels> {
    let others: Vec<KeyValue> = resource
        .iter()
        .filter(|kv| !IDENTIFYING.contains(&kv.key.as_str()))
        .cloned()
        .collect();
    if others.is_empty() {
        return None;
    }
    let mut pairs = sanitized(&others);
    pairs.retain(|(k, _)| k != "job" && k != "instance");
    pairs.extend(job_instance(resource));
    Some(Labels::new(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};

    pub(crate) fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn job_joins_namespace_and_name() {
        let r = [
            kv("service.name", "api"),
            kv("service.namespace", "shop"),
            kv("service.instance.id", "pod-1"),
        ];
        assert_eq!(
            job_instance(&r),
            vec![
                ("job".to_owned(), "shop/api".to_owned()),
                ("instance".to_owned(), "pod-1".to_owned())
            ]
        );
    }

    #[test]
    fn colliding_keys_merge_values_in_key_order() {
        let got = sanitized(&[kv("a_b", "2"), kv("a.b", "1"), kv("1x", "y")]);
        assert_eq!(
            got,
            vec![
                ("a_b".to_owned(), "1;2".to_owned()),
                ("key_1x".to_owned(), "y".to_owned())
            ]
        );
    }

    #[test]
    fn plain_points_need_no_allocation_and_others_say_so() {
        use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
        let int = KeyValue {
            key: "code".into(),
            value: Some(AnyValue {
                value: Some(V::IntValue(200)),
            }),
            ..Default::default()
        };
        let mut buf = [("", ""); 2];
        let plain = [kv("b", "1"), kv("a", "")];
        assert_eq!(sanitized_plain(&plain, &mut buf), Some(2));
        assert_eq!(buf, [("b", "1"), ("a", "")]);
        for other in [
            vec![kv("a.b", "1")],
            vec![kv("a", "1"), kv("a", "2")],
            vec![int],
            vec![kv("a", "1"), kv("b", "1"), kv("c", "1")],
        ] {
            let mut buf = [("", ""); 2];
            assert_eq!(sanitized_plain(&other, &mut buf), None, "{other:?}");
        }
    }

    #[test]
    fn target_info_has_other_attributes_only() {
        let r = [
            kv("service.name", "api"),
            kv("host.name", "h1"),
            kv("deployment.environment.name", "prod"),
        ];
        let l = target_info(&r).expect("target_info");
        assert_eq!(l.get("job"), Some("api"));
        assert_eq!(l.get("host_name"), Some("h1"));
        assert_eq!(l.get("deployment_environment_name"), Some("prod"));
        assert_eq!(l.get("service_name"), None);
        assert!(target_info(&[kv("service.name", "api")]).is_none());
    }
}
