use super::*;
use proptest::prelude::*;

fn first(buf: &[u8]) -> Result<Option<(u32, Wire<'_>)>, Bail> {
    Reader::new(buf).next_field()
}

#[test]
fn varints_follow_prosts_rules() {
    // Ten bytes, the tenth 1: u64::MAX. The tenth 2 or an eleventh byte: refused by prost too.
    let max = [
        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ];
    assert_eq!(first(&max), Ok(Some((1, Wire::Varint(u64::MAX)))));
    let mut over = max;
    over[10] = 0x02;
    assert_eq!(first(&over), Err(Bail));
    assert_eq!(first(&[0x08, 0x80]), Err(Bail), "truncated");
    // Over-long but valid encodings are accepted, as prost accepts them.
    assert_eq!(
        first(&[0x08, 0x81, 0x80, 0x00]),
        Ok(Some((1, Wire::Varint(1))))
    );
}

#[test]
fn keys_follow_prosts_rules() {
    assert_eq!(first(&[0x00, 0x00]), Err(Bail), "tag 0");
    for wire_type in [3u8, 4, 6, 7] {
        assert_eq!(first(&[0x08 | wire_type, 0x00]), Err(Bail), "{wire_type}");
    }
    // Keys above u32::MAX, even when the field number would fit.
    let big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00];
    assert_eq!(first(&big), Err(Bail));
    assert_eq!(first(&[0x90, 0x80, 0x80, 0x80, 0x10, 0x00]), Err(Bail));
    assert_eq!(first(&[0x0a, 0x05, 1, 2]), Err(Bail), "length past the end");
    assert_eq!(first(&[0x09, 1, 2, 3]), Err(Bail), "short fixed64");
}

#[test]
fn check_refuses_wrong_wire_types_and_bad_packing() {
    use schema::*;
    // `AnyValue.string_value` as a varint; `Buckets.bucket_counts` packed with a torn varint.
    assert_eq!(
        check(&ANY_VALUE, &[0x08, 0x01], 0),
        Err(Bail),
        "string as a varint"
    );
    assert_eq!(
        check(&ANY_VALUE, &[0x10, 0x01], 0),
        Ok(()),
        "bool_value is a varint"
    );
    assert_eq!(
        check(&ANY_VALUE, &[0x0a, 0x01, 0xff], 0),
        Err(Bail),
        "not UTF-8"
    );
    assert_eq!(
        check(&ANY_VALUE, &[0x10 | 2, 0x00], 0),
        Err(Bail),
        "bool as bytes"
    );
    assert_eq!(check(&BUCKETS, &[0x12, 0x01, 0x80], 0), Err(Bail));
    assert_eq!(
        check(&BUCKETS, &[0x12, 0x02, 0x80, 0x01, 0x10, 0x05], 0),
        Ok(())
    );
    assert_eq!(check(&QUANTILE, &[0x0a, 0x00], 0), Err(Bail));
    assert_eq!(
        check(&EXEMPLAR, &[0x2a, 0x01, 0xff], 0),
        Ok(()),
        "ids are bytes"
    );
    assert_eq!(check(&ANY_VALUE, &[], MAX_DEPTH + 1), Err(Bail));
}

proptest! {
    /// On arbitrary bytes, `check` never accepts what prost refuses (it may refuse more).
    #[test]
    fn check_accepts_only_what_prost_decodes(body in prop::collection::vec(any::<u8>(), 0..40)) {
        use prost::Message;
        use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
        use opentelemetry_proto::tonic::metrics::v1::{Exemplar, SummaryDataPoint};
        if check(&schema::ANY_VALUE, &body, 0).is_ok() {
            prop_assert!(AnyValue::decode(&body[..]).is_ok());
        }
        if check(&schema::KEY_VALUE, &body, 0).is_ok() {
            prop_assert!(KeyValue::decode(&body[..]).is_ok());
        }
        if check(&schema::EXEMPLAR, &body, 0).is_ok() {
            prop_assert!(Exemplar::decode(&body[..]).is_ok());
        }
        if check(&schema::SUMMARY_POINT, &body, 0).is_ok() {
            prop_assert!(SummaryDataPoint::decode(&body[..]).is_ok());
        }
    }
}
