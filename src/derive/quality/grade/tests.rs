use super::*;

const ZERO_ONE: Scale = Scale { min: 0.0, max: 1.0 };
const ONE_FIVE: Scale = Scale { min: 1.0, max: 5.0 };
const HUNDRED: Scale = Scale {
    min: 0.0,
    max: 100.0,
};

fn grade_on(value: f64, scale: Scale) -> &'static str {
    let n = normalize(value, scale, false).unwrap_or_else(|e| panic!("{value}: {e:?}"));
    Grades::default().grade(n).as_str()
}

#[test]
fn grades_at_every_boundary_on_0_100() {
    for (v, want) in [
        (0.0, "poor"),
        (49.999, "poor"),
        (50.0, "fair"),
        (69.99, "fair"),
        (70.0, "good"),
        (89.99, "good"),
        (90.0, "excellent"),
        (100.0, "excellent"),
    ] {
        assert_eq!(grade_on(v, HUNDRED), want, "{v}");
    }
}

#[test]
fn grades_at_every_boundary_on_0_1() {
    for (v, want) in [
        (0.49999, "poor"),
        (0.5, "fair"),
        (0.6999, "fair"),
        (0.7, "good"),
        (0.8999, "good"),
        (0.9, "excellent"),
        (1.0, "excellent"),
    ] {
        assert_eq!(grade_on(v, ZERO_ONE), want, "{v}");
    }
    // 0.9 * 100 is 90.00000000000001 in floating point; normalization must land on 90.
    assert_eq!(normalize(0.9, ZERO_ONE, false), Ok(90.0));
    assert_eq!(normalize(0.7, ZERO_ONE, false), Ok(70.0));
}

#[test]
fn grades_at_every_boundary_on_1_5_stars() {
    // 1-5 maps linearly: 3 -> 50, 3.8 -> 70, 4.6 -> 90.
    for (v, want) in [
        (1.0, "poor"),
        (2.99996, "poor"),
        (3.0, "fair"),
        (3.7996, "fair"),
        (3.8, "good"),
        (4.5996, "good"),
        (4.6, "excellent"),
        (5.0, "excellent"),
    ] {
        assert_eq!(grade_on(v, ONE_FIVE), want, "{v}");
    }
    assert_eq!(normalize(4.6, ONE_FIVE, false), Ok(90.0));
    assert_eq!(normalize(1.0, ONE_FIVE, false), Ok(0.0));
}

#[test]
fn out_of_scale_and_non_finite_scores_are_errors_not_clamped() {
    assert_eq!(
        normalize(87.0, ZERO_ONE, false),
        Err(ScoreError::OutOfRange)
    );
    assert_eq!(
        normalize(-0.1, ZERO_ONE, false),
        Err(ScoreError::OutOfRange)
    );
    assert_eq!(normalize(0.0, ONE_FIVE, false), Err(ScoreError::OutOfRange));
    assert_eq!(
        normalize(100.0001, HUNDRED, false),
        Err(ScoreError::OutOfRange)
    );
    assert_eq!(
        normalize(f64::NAN, HUNDRED, false),
        Err(ScoreError::NotFinite)
    );
    assert_eq!(
        normalize(f64::INFINITY, HUNDRED, false),
        Err(ScoreError::NotFinite)
    );
    // A degenerate scale (only reachable without validation) must not produce NaN grades.
    let flat = Scale { min: 1.0, max: 1.0 };
    assert_eq!(normalize(1.0, flat, false), Err(ScoreError::NotFinite));
}

#[test]
fn lower_is_better_flips_the_scale() {
    assert_eq!(normalize(0.1, ZERO_ONE, true), Ok(90.0));
    assert_eq!(normalize(0.0, ZERO_ONE, true), Ok(100.0));
    assert_eq!(normalize(1.0, ZERO_ONE, true), Ok(0.0));
}

#[test]
fn bucket_bounds_sit_at_thresholds_and_threshold_scores_fall_above_them() {
    let g = Grades::default();
    assert_eq!(g.bucket_bounds(), vec![50.0, 70.0, 90.0, 100.0]);
    for t in [50.0, 70.0, 90.0] {
        let o = g.observed(t);
        assert!(o > t && o - t < 1e-12, "{t} -> {o}");
    }
    assert_eq!(g.observed(89.99), 89.99);
    assert_eq!(g.observed(100.0), 100.0);
    let top = Grades {
        excellent: 100.0,
        good: 80.0,
        fair: 0.0,
    };
    assert_eq!(top.bucket_bounds(), vec![0.0, 80.0, 100.0]);
    assert!(top.observed(0.0) > 0.0);
}

/// The bucket a score is counted in (first bound >= value, as the store does it) must be the
/// bucket of its grade: poor below the first bound, then fair, good, excellent.
fn bucket_of(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|b| *b < v)
}

proptest::proptest! {
    #[test]
    fn any_score_lands_in_its_grades_bucket(
        fair in 0.0f64..98.0,
        gap1 in 0.5f64..10.0,
        gap2 in 0.5f64..10.0,
        raw in proptest::prop_oneof![
            -10.0f64..110.0,
            proptest::sample::select(vec![0.0, 50.0, 70.0, 90.0, 100.0]),
        ],
    ) {
        let g = Grades { fair, good: (fair + gap1).min(99.0), excellent: (fair + gap1 + gap2).min(100.0) };
        proptest::prop_assume!(g.fair < g.good && g.good < g.excellent);
        // Scores exactly on this draw's thresholds, as well as arbitrary ones.
        for v in [raw, g.fair, g.good, g.excellent] {
            match normalize(v, HUNDRED, false) {
                Ok(n) => {
                    proptest::prop_assert!((0.0..=100.0).contains(&n));
                    let bounds = g.bucket_bounds();
                    let want = match g.grade(n) {
                        Grade::Poor => 0,
                        Grade::Fair => 1,
                        Grade::Good => 2,
                        Grade::Excellent => 3,
                    };
                    proptest::prop_assert_eq!(bucket_of(&bounds, g.observed(n)).min(3), want, "{} -> {}", v, n);
                }
                Err(e) => proptest::prop_assert!(!(0.0..=100.0).contains(&v), "{v}: {e:?}"),
            }
        }
    }

    #[test]
    fn normalize_never_panics_and_stays_in_range(v in proptest::num::f64::ANY, lo in -1e6f64..1e6, width in 1e-6f64..1e6, flip: bool) {
        if let Ok(n) = normalize(v, Scale { min: lo, max: lo + width }, flip) {
            proptest::prop_assert!((0.0..=100.0).contains(&n));
        }
    }
}
