//! [`PointSink`]: where translated data points go. The receiver stores each one as it is
//! translated, by its borrowed label pairs; tests and tools collect owned samples.

use crate::model::{Exemplar, FamilyOptions, Labels, Sample, SampleValue};
use std::sync::Arc;

pub trait PointSink {
    /// One data point's sample. `labels` are in [`Labels::normalize_borrowed`] form: the pairs
    /// `Labels::new` would hold, borrowed from the request.
    fn point(
        &mut self,
        name: &Arc<str>,
        labels: &[(&str, &str)],
        value: SampleValue,
        options: &Arc<FamilyOptions>,
        exemplar: Option<Exemplar>,
    );
}

impl PointSink for Vec<Sample> {
    fn point(
        &mut self,
        name: &Arc<str>,
        labels: &[(&str, &str)],
        value: SampleValue,
        options: &Arc<FamilyOptions>,
        exemplar: Option<Exemplar>,
    ) {
        self.push(Sample {
            name: name.clone(),
            labels: Labels::new(labels.iter().copied()),
            value,
            options: options.clone(),
            exemplar,
        });
    }
}
