//! Each latency distribution, sampled 100,000 times, matches its mean and quantiles.
//! Tolerances are a few standard errors wide: with 100k draws the standard error of a mean is
//! about 0.3% of the standard deviation, and of a central quantile about the same.

use sim_core::network::{Latency, Mixture};
use sim_core::rng::{Purpose, SimRng};
use sim_core::time::SimDuration;

const SAMPLES: usize = 100_000;

fn ms(value: f64) -> SimDuration {
    SimDuration((value * 1e6) as u64)
}

/// Sorted draws in milliseconds.
fn draws(latency: &Latency, stream: u64) -> Vec<f64> {
    let mut rng = SimRng::stream(2024, Purpose::Test, stream);
    let mut values: Vec<f64> = (0..SAMPLES)
        .map(|_| latency.sample(&mut rng).as_nanos() as f64 / 1e6)
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn assert_close(what: &str, measured: f64, expected: f64, relative: f64) {
    let error = (measured - expected).abs() / expected;
    assert!(
        error <= relative,
        "{what}: measured {measured:.4} ms, expected {expected:.4} ms (error {:.2}% > {:.2}%)",
        error * 100.0,
        relative * 100.0
    );
}

/// z-scores of the standard normal at 0.5, 0.9 and 0.99.
const Z90: f64 = 1.281_551_565_5;
const Z99: f64 = 2.326_347_874;

#[test]
fn constant_is_constant() {
    let values = draws(&Latency::Constant(ms(5.0)), 0);
    assert!(values.iter().all(|v| *v == 5.0));
}

#[test]
fn uniform_matches_mean_and_quantiles() {
    let values = draws(
        &Latency::Uniform {
            min: ms(1.0),
            max: ms(10.0),
        },
        1,
    );
    assert_close("uniform mean", mean(&values), 5.5, 0.01);
    assert_close("uniform p50", quantile(&values, 0.5), 5.5, 0.01);
    assert_close("uniform p90", quantile(&values, 0.9), 9.1, 0.01);
    assert!(values[0] >= 1.0 && values[SAMPLES - 1] <= 10.0);
}

#[test]
fn normal_matches_mean_and_quantiles() {
    let values = draws(
        &Latency::Normal {
            mean: ms(10.0),
            stddev: ms(2.0),
        },
        2,
    );
    assert_close("normal mean", mean(&values), 10.0, 0.005);
    assert_close("normal p50", quantile(&values, 0.5), 10.0, 0.005);
    assert_close("normal p90", quantile(&values, 0.9), 10.0 + 2.0 * Z90, 0.01);
    assert_close(
        "normal p99",
        quantile(&values, 0.99),
        10.0 + 2.0 * Z99,
        0.015,
    );
}

#[test]
fn log_normal_matches_median_mean_and_tail() {
    let sigma = 0.5;
    let values = draws(
        &Latency::LogNormal {
            median: ms(5.0),
            sigma,
        },
        3,
    );
    assert_close("log-normal p50", quantile(&values, 0.5), 5.0, 0.01);
    assert_close(
        "log-normal mean",
        mean(&values),
        5.0 * libm::exp(sigma * sigma / 2.0),
        0.01,
    );
    assert_close(
        "log-normal p90",
        quantile(&values, 0.9),
        5.0 * libm::exp(sigma * Z90),
        0.015,
    );
    assert_close(
        "log-normal p99",
        quantile(&values, 0.99),
        5.0 * libm::exp(sigma * Z99),
        0.03,
    );
}

#[test]
fn exponential_matches_mean_and_quantiles() {
    let values = draws(
        &Latency::Exponential {
            min: ms(1.0),
            mean: ms(4.0),
        },
        4,
    );
    assert_close("exponential mean", mean(&values), 5.0, 0.01);
    assert_close(
        "exponential p50",
        quantile(&values, 0.5),
        1.0 + 4.0 * libm::log(2.0),
        0.015,
    );
    assert_close(
        "exponential p99",
        quantile(&values, 0.99),
        1.0 + 4.0 * libm::log(100.0),
        0.03,
    );
    assert!(values[0] >= 1.0);
}

#[test]
fn pareto_matches_mean_and_quantiles() {
    let shape = 3.0;
    let values = draws(
        &Latency::Pareto {
            min: ms(1.0),
            shape,
        },
        5,
    );
    assert_close("pareto mean", mean(&values), shape / (shape - 1.0), 0.02);
    assert_close(
        "pareto p50",
        quantile(&values, 0.5),
        libm::pow(2.0, 1.0 / shape),
        0.01,
    );
    assert_close(
        "pareto p90",
        quantile(&values, 0.9),
        libm::pow(10.0, 1.0 / shape),
        0.015,
    );
    assert!(values[0] >= 1.0);
}

/// LinkedIn's SSD fit (Bailis et al., VLDB 2012, Table 3): 91.22% Pareto(0.235 ms, 10) and
/// 8.78% Exponential(rate 1.66/ms). Mean, share below the Pareto floor and three quantiles
/// against the mixture's own CDF, solved by bisection. Tolerances: the mean's standard error
/// is about 0.2% (the exponential part carries most of the variance), so 1%; each quantile
/// within 1% (the density is high at all three, a few standard errors of the rank).
#[test]
fn mixture_matches_mean_share_and_quantiles() {
    let pareto = Latency::Pareto {
        min: ms(0.235),
        shape: 10.0,
    };
    let exponential = Latency::Exponential {
        min: SimDuration::ZERO,
        mean: SimDuration(602_410),
    };
    // Weights need not add up to 1: these are the fit's percentages.
    let mixture = Latency::Mixture(
        Mixture::new(vec![(91.22, pareto), (8.78, exponential)]).expect("valid weights"),
    );
    let values = draws(&mixture, 6);
    let (share, xm, alpha, mean_exp) = (0.9122, 0.235, 10.0, 0.60241);
    let cdf = |x: f64| {
        let body = if x < xm {
            0.0
        } else {
            1.0 - libm::pow(xm / x, alpha)
        };
        share * body + (1.0 - share) * (1.0 - libm::exp(-x / mean_exp))
    };
    let inverse = |q: f64| {
        let (mut lo, mut hi) = (0.0, 100.0);
        for _ in 0..100 {
            let mid = (lo + hi) / 2.0;
            if cdf(mid) < q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let expected_mean = share * xm * alpha / (alpha - 1.0) + (1.0 - share) * mean_exp;
    assert_close("mixture mean", mean(&values), expected_mean, 0.01);
    // Only the exponential part falls below the Pareto floor: 8.78% × (1 − e^(−0.235/0.6024)).
    let below = values.iter().filter(|v| **v < xm).count() as f64 / SAMPLES as f64;
    assert!(
        (below - cdf(xm - 1e-9)).abs() < 0.002,
        "share below the floor {below} against {}",
        cdf(xm - 1e-9)
    );
    for q in [0.5, 0.9, 0.99] {
        assert_close(
            &format!("mixture p{}", q * 100.0),
            quantile(&values, q),
            inverse(q),
            0.01,
        );
    }
}

/// Weights are normalized and a component is drawn by weight: 2 : 6 is 25% : 75%. The
/// binomial standard deviation at 100k draws is 0.14 pp; 0.6 pp is over 4σ.
#[test]
fn mixture_weights_are_normalized() {
    let mixture = Latency::Mixture(
        Mixture::new(vec![
            (2.0, Latency::Constant(ms(1.0))),
            (6.0, Latency::Constant(ms(3.0))),
        ])
        .unwrap(),
    );
    let values = draws(&mixture, 7);
    let ones = values.iter().filter(|v| **v == 1.0).count() as f64 / SAMPLES as f64;
    assert!((ones - 0.25).abs() < 0.006, "{ones}");
    assert!(values.iter().all(|v| *v == 1.0 || *v == 3.0));
}

/// A one-component mixture draws exactly what its component draws: no extra number.
#[test]
fn a_single_component_mixture_is_its_component() {
    let pareto = Latency::Pareto {
        min: ms(1.0),
        shape: 2.0,
    };
    let single = Latency::Mixture(Mixture::new(vec![(1.0, pareto.clone())]).unwrap());
    assert_eq!(draws(&single, 8), draws(&pareto, 8));
}

/// A shift adds its delay to every draw.
#[test]
fn shifted_adds_its_delay() {
    let exponential = Latency::Exponential {
        min: SimDuration::ZERO,
        mean: ms(2.0),
    };
    let shifted = Latency::Shifted {
        by: ms(75.0),
        latency: Box::new(exponential.clone()),
    };
    let plain = draws(&exponential, 9);
    let moved = draws(&shifted, 9);
    assert!(plain
        .iter()
        .zip(&moved)
        .all(|(a, b)| (b - a - 75.0).abs() < 1e-9));
}

#[test]
fn bad_mixtures_are_rejected_with_a_reason() {
    assert!(Mixture::new(vec![])
        .unwrap_err()
        .contains("at least one component"));
    for weight in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let error = Mixture::new(vec![(weight, Latency::Constant(ms(1.0)))]).unwrap_err();
        assert!(error.contains("expected a finite number > 0"), "{error}");
    }
    let mut deep = Latency::Constant(ms(1.0));
    for _ in 0..=sim_core::network::LATENCY_NESTING_MAX {
        deep = Latency::Mixture(Mixture::new(vec![(1.0, deep)]).unwrap());
    }
    assert!(deep.validate().unwrap_err().contains("at most"));
}
