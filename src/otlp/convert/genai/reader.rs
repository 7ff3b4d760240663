//! [`super::span_usage`] for every span of one trace request, with what spans of a request share
//! worked out once: each resource's scope label values, the label sets already built, and one
//! shared string per distinct provider, model and operation (the deriver compares them by
//! pointer first). Each event is equal to the one [`super::span_usage`] makes from the same span;
//! the differential test in `tests.rs` holds it to that.

use super::super::attrs::{get_str, Attribute};
use super::super::spans::SpanData;
use super::{assemble_scope, scope_labels, usage_event, ScopeKey, ENV_KEYS, SERVICE_KEYS};
use crate::model::{Labels, UsageEvent};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use std::borrow::Cow;
use std::sync::Arc;

/// More names than this (a long `scope_labels` list) and each span takes [`scope_labels`].
const MAX_KEYS: usize = 16;

/// Distinct label sets (per resource) and names remembered; past that, built per span.
const MAX_MEMO: usize = 32;
const MAX_NAMES: usize = 32;

/// Borrows the request (`'r`) it reads: a resource is recognised by its address, which is only
/// sound while every resource of the request is alive.
pub struct SpanReader<'r> {
    configured: &'r [String],
    /// [`SERVICE_KEYS`], [`ENV_KEYS`], then each configured label: every name [`scope_labels`]
    /// looks up.
    keys: Vec<&'r str>,
    /// Bit `min(len, 63)` set for each key's length: most span attributes miss on length alone.
    lens: u64,
    resource: Option<&'r [KeyValue]>,
    /// Each key's value on the current resource.
    on_resource: Vec<Option<Cow<'r, str>>>,
    /// Label sets of the current resource, by the span's own values of `keys`.
    memo: Vec<(SpanValues, Labels)>,
    names: Vec<Arc<str>>,
}

impl<'r> SpanReader<'r> {
    pub fn new(configured: &'r [String]) -> Self {
        let keys: Vec<&'r str> = SERVICE_KEYS
            .iter()
            .chain(ENV_KEYS)
            .copied()
            .chain(configured.iter().map(String::as_str))
            .collect();
        let lens = keys.iter().fold(0u64, |m, k| m | len_bit(k));
        SpanReader {
            configured,
            keys,
            lens,
            resource: None,
            on_resource: Vec::new(),
            memo: Vec::new(),
            names: Vec::new(),
        }
    }

    /// [`super::span_usage`] of `span` under `resource`.
    pub fn span_usage<S: SpanData>(
        &mut self,
        resource: &'r [KeyValue],
        span: &S,
    ) -> Option<UsageEvent> {
        usage_event(span, self, |this, a| this.labels(resource, a), Self::name)
    }

    /// One shared string per distinct name.
    fn name(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.iter().find(|a| ***a == *s) {
            return Arc::clone(a);
        }
        let a: Arc<str> = Arc::from(s);
        if self.names.len() < MAX_NAMES {
            self.names.push(Arc::clone(&a));
        }
        a
    }

    /// [`scope_labels`]`(resource, attrs, configured)`.
    pub fn labels<A: Attribute>(&mut self, resource: &'r [KeyValue], attrs: &[A]) -> Labels {
        let n = self.keys.len();
        if n > MAX_KEYS {
            return scope_labels(resource, attrs, self.configured);
        }
        if !self.resource.is_some_and(|r| std::ptr::eq(r, resource)) {
            self.resource = Some(resource);
            self.on_resource = self.keys.iter().map(|k| get_str(resource, k)).collect();
            self.memo.clear();
        }
        // The first attribute of each name, as `get_str` finds it, in one pass.
        let mut first: [Option<usize>; MAX_KEYS] = [None; MAX_KEYS];
        for (j, kv) in attrs.iter().enumerate() {
            let key = kv.key();
            if self.lens & len_bit(key) == 0 {
                continue;
            }
            for (i, k) in self.keys.iter().enumerate() {
                if first[i].is_none() && *k == key {
                    first[i] = Some(j);
                }
            }
        }
        let mut own: [Option<Cow<'_, str>>; MAX_KEYS] = Default::default();
        for (i, f) in first.iter().enumerate().take(n) {
            own[i] = f
                .and_then(|j| attrs.get(j))
                .and_then(|kv| kv.text())
                .filter(|s| !s.is_empty());
        }
        let own = &own[..n];
        if let Some((_, l)) = self
            .memo
            .iter()
            .find(|(k, _)| k.iter().zip(own).all(|(a, b)| a.as_deref() == b.as_deref()))
        {
            return l.clone();
        }
        let labels = self.build(own);
        if self.memo.len() < MAX_MEMO {
            let key = own.iter().map(|v| v.as_deref().map(Box::from)).collect();
            self.memo.push((key, labels.clone()));
        }
        labels
    }

    /// [`assemble_scope`] over the span's (`own`) and the resource's values of `keys`.
    fn build(&self, own: &[Option<Cow<'_, str>>]) -> Labels {
        let res = &self.on_resource;
        let first = |is: std::ops::Range<usize>| {
            is.clone()
                .find_map(|i| own.get(i)?.as_deref())
                .or_else(|| is.clone().find_map(|i| res.get(i)?.as_deref()))
                .map(Cow::Borrowed)
        };
        let env = SERVICE_KEYS.len()..SERVICE_KEYS.len() + ENV_KEYS.len();
        assemble_scope(self.configured, |key| match key {
            ScopeKey::Service => first(0..SERVICE_KEYS.len()),
            ScopeKey::Env => first(env.clone()),
            ScopeKey::Configured(c) => first(env.end + c..env.end + c + 1),
        })
    }
}

/// A span's own values of the reader's keys, in their order.
type SpanValues = Box<[Option<Box<str>>]>;

fn len_bit(key: &str) -> u64 {
    1u64 << key.len().min(63)
}
