//! The whole ingest of a trace request (over-cap check, conversion, the dedup window across
//! requests, pricing, budgets, the store) read in place and through prost: the same store.

use super::request;
use crate::pipeline::Pipeline;
use crate::receivers::otlp::ingest::Ingest;
use crate::store::{Store, StoreLimits};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use prost::Message;
use std::path::Path;
use std::sync::Arc;

/// An ingest on the shipped config (its price table, budgets and scope labels) and its store.
fn ingest() -> (Arc<Ingest>, Arc<Store>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/meterd.yaml");
    let snapshot = crate::pipeline::load(&path).expect("shipped config loads");
    let store = Arc::new(Store::new(StoreLimits::default()));
    let pipeline = Arc::new(Pipeline::new(store.clone(), snapshot));
    (Ingest::new(pipeline, 0), store)
}

fn render(store: &Store) -> String {
    crate::expose::text::render(&store.snapshot(), crate::expose::text::Format::Text)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn in_place_and_prost_ingest_store_the_same(reqs in prop::collection::vec(request(), 1..4)) {
        let (in_place, in_place_store) = ingest();
        let (prost, prost_store) = ingest();
        for req in &reqs {
            let body = req.encode_to_vec();
            let got = in_place.traces_in_place(&body).expect("reads in place");
            let decoded = ExportTraceServiceRequest::decode(&body[..]).expect("decodes");
            prop_assert_eq!(got, prost.traces(&decoded));
        }
        prop_assert_eq!(render(&in_place_store), render(&prost_store));
    }
}

/// What the reader leaves to prost is still answered by prost's path (the receivers' fallback).
#[test]
fn a_request_left_to_prost_is_not_counted_in_place() {
    let (ingest, store) = ingest();
    let body = super::one_span(&super::str_attr(b"gen_ai.request.model", b"\xff"));
    assert!(ingest.traces_in_place(&body).is_none());
    assert!(
        !render(&store).contains("meterd_otlp_items_received"),
        "nothing counted before the fallback decides"
    );
}
