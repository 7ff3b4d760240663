//! [`PointSink`]: where translated data points go. The receiver stores each one as it is
//! translated, by its borrowed label pairs; tests and tools collect owned samples.

use crate::model::{Exemplar, FamilyOptions, Labels, Sample, SampleValue};
use std::sync::Arc;

/// One translated data point, its labels still borrowed from the request.
pub struct Point<'a> {
    pub name: &'a Arc<str>,
    /// In [`Labels::normalize_borrowed`] form: the pairs `Labels::new` would hold.
    pub labels: &'a [(&'a str, &'a str)],
    pub value: SampleValue,
    pub options: &'a Arc<FamilyOptions>,
    pub exemplar: Option<Exemplar>,
}

pub trait PointSink {
    fn point(&mut self, point: Point<'_>);
}

impl PointSink for Vec<Sample> {
    fn point(&mut self, p: Point<'_>) {
        self.push(Sample {
            name: p.name.clone(),
            labels: Labels::new(p.labels.iter().copied()),
            value: p.value,
            options: p.options.clone(),
            exemplar: p.exemplar,
        });
    }
}
