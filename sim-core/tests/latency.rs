//! Each latency distribution, sampled 100,000 times, matches its mean and quantiles.
//! Tolerances are a few standard errors wide: with 100k draws the standard error of a mean is
//! about 0.3% of the standard deviation, and of a central quantile about the same.

use sim_core::network::Latency;
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
