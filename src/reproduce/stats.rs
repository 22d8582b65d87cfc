//! The statistics the reproductions report: quantiles as TARGETS.md computes them, means,
//! binomial standard errors, the two-sample Kolmogorov-Smirnov distance, and binomial
//! coefficients. Floats are fine here: these summarize finished runs and decide nothing a
//! simulation does.

/// The ⌈q·n⌉-th smallest value of `sorted` (TARGETS.md's convention); None when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The arithmetic mean; None when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The standard error of a proportion `p` estimated from `trials` trials.
pub fn binomial_sigma(p: f64, trials: u64) -> f64 {
    (p * (1.0 - p) / trials.max(1) as f64).sqrt()
}

/// How much a tolerance set for `full` trials widens when only `used` were run:
/// sqrt(full / used), never below 1 (TARGETS.md's rule for the reduced forms).
pub fn widening(full: u64, used: u64) -> f64 {
    (full as f64 / used.max(1) as f64).sqrt().max(1.0)
}

/// C(n, k) as a float.
pub fn choose(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// A sample where some trials ended without a value (censored: larger than every value).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Censored {
    /// The values, sorted ascending.
    pub sorted: Vec<f64>,
    /// How many trials had no value by the end of their run.
    pub censored: usize,
}

impl Censored {
    /// Sorts `values` and records `censored` trials beyond them.
    pub fn new(mut values: Vec<f64>, censored: usize) -> Censored {
        values.sort_by(f64::total_cmp);
        Censored {
            sorted: values,
            censored,
        }
    }

    /// Every trial, censored ones included.
    pub fn trials(&self) -> usize {
        self.sorted.len() + self.censored
    }

    /// The ⌈q·n⌉-th smallest over all trials; None when it falls among the censored ones.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.trials();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.sorted.get(rank - 1).copied()
    }

    /// The median over all trials: the middle value, or the midpoint of the two middle values
    /// when the count is even (as the paper-data README's medians are computed); None when it
    /// falls among the censored ones.
    pub fn median(&self) -> Option<f64> {
        let n = self.trials();
        if n == 0 {
            return None;
        }
        if n % 2 == 1 {
            return self.sorted.get(n / 2).copied();
        }
        let (a, b) = (self.sorted.get(n / 2 - 1)?, self.sorted.get(n / 2)?);
        Some((a + b) / 2.0)
    }

    /// The mean of the values; None when any trial is censored (the mean is then unknown).
    pub fn mean(&self) -> Option<f64> {
        if self.censored > 0 {
            return None;
        }
        mean(&self.sorted)
    }

    /// The share of all trials at or below `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        let below = self.sorted.partition_point(|v| *v <= x);
        below as f64 / self.trials().max(1) as f64
    }
}

/// The two-sample Kolmogorov-Smirnov distance: the largest gap between the two empirical
/// distribution functions (censored trials count as larger than every value).
pub fn ks_distance(a: &Censored, b: &Censored) -> f64 {
    let mut gap: f64 = 0.0;
    for x in a.sorted.iter().chain(&b.sorted) {
        gap = gap.max((a.cdf(*x) - b.cdf(*x)).abs());
    }
    gap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_ceiling_rank() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&values, 0.5), Some(2.0));
        assert_eq!(quantile(&values, 0.51), Some(3.0));
        assert_eq!(quantile(&values, 0.0), Some(1.0));
        assert_eq!(quantile(&values, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn censored_trials_sit_above_every_value() {
        let sample = Censored::new(vec![3.0, 1.0, 2.0], 1);
        assert_eq!(sample.trials(), 4);
        assert_eq!(sample.quantile(0.5), Some(2.0));
        assert_eq!(sample.median(), Some(2.5));
        assert_eq!(Censored::new(vec![1.0, 2.0, 3.0], 0).median(), Some(2.0));
        assert_eq!(Censored::new(vec![1.0], 1).median(), None);
        assert_eq!(sample.quantile(0.9), None);
        assert_eq!(sample.mean(), None);
        assert_eq!(sample.cdf(2.5), 0.5);
    }

    #[test]
    fn ks_distance_is_the_largest_cdf_gap() {
        let a = Censored::new(vec![1.0, 2.0, 3.0, 4.0], 0);
        assert_eq!(ks_distance(&a, &a), 0.0);
        let b = Censored::new(vec![3.0, 4.0, 5.0, 6.0], 0);
        assert_eq!(ks_distance(&a, &b), 0.5);
        let c = Censored::new(vec![10.0], 0);
        assert_eq!(ks_distance(&a, &c), 1.0);
    }

    #[test]
    fn binomials_and_widening() {
        assert_eq!(choose(5, 2), 10.0);
        assert_eq!(choose(2, 3), 0.0);
        assert!((widening(100_000, 10_000) - 10f64.sqrt()).abs() < 1e-12);
        assert_eq!(widening(1_000, 5_000), 1.0);
    }
}
