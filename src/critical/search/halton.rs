//! Scrambled Halton sequences: the low-discrepancy starts of the search, one sequence per seed
//! that the rounds continue.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The first `n` primes (the Halton bases).
fn primes(n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    let mut c = 2u64;
    while out.len() < n {
        if out
            .iter()
            .take_while(|&&p| p * p <= c)
            .all(|&p| !c.is_multiple_of(p))
        {
            out.push(c);
        }
        c += 1;
    }
    out
}

/// `n_points` points of a scrambled Halton sequence in the unit cube `[0, 1)^n_dims`.
///
/// Dimension `d` uses the `d`-th prime `b` as base; point `i` has coordinate
/// $\sum_k \pi_{d,k}(a_k)\, b^{-k-1}$ where $a_k$ are the base-`b` digits of `i` and each digit
/// position `k` has its own random permutation $\pi_{d,k}$ of `{0, …, b−1}` drawn from `seed`
/// (random digit scrambling). Enough digit positions are used to fill `f64`'s 52-bit mantissa.
///
/// Postconditions: every coordinate is in `[0, 1)`; the same arguments give the same points.
/// Cost: `O(n_points · n_dims · 52)`.
///
/// # Example
/// ```
/// # use critpt::critical::halton_points;
/// let pts = halton_points(64, 2, 7);
/// assert_eq!(pts.len(), 64);
/// assert!(pts.iter().flatten().all(|&u| (0.0..1.0).contains(&u)));
/// // Stratified: each quarter of [0, 1) holds 16 first coordinates (base 2).
/// let low = pts.iter().filter(|p| p[0] < 0.25).count();
/// assert_eq!(low, 16);
/// ```
///
/// # References
/// Owen (1997), "Scrambled net variance for integrals of smooth functions"; Braaten & Weller
/// (1979), "An improved low-discrepancy sequence for multidimensional quasi-Monte Carlo
/// integration".
pub fn halton_points(n_points: usize, n_dims: usize, seed: u64) -> Vec<Vec<f64>> {
    halton_range(0, n_points, n_dims, seed)
}

/// Points `first .. first + count` of the sequence [`halton_points`] draws for `seed`: the rounds
/// of the search continue one sequence.
///
/// Postcondition: `halton_range(a, n, d, s)` equals `halton_points(a + n, d, s)[a..]`.
pub fn halton_range(first: usize, count: usize, n_dims: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let bases = primes(n_dims);
    // Per dimension: the base, its digit count, and one permutation per digit position.
    let tables: Vec<(u64, Vec<Vec<u64>>)> = bases
        .iter()
        .map(|&b| {
            let digits = (52.0 / (b as f64).log2()).ceil() as usize;
            let perms = (0..digits)
                .map(|_| {
                    let mut p: Vec<u64> = (0..b).collect();
                    p.shuffle(&mut rng);
                    p
                })
                .collect();
            (b, perms)
        })
        .collect();
    (first as u64..(first + count) as u64)
        .map(|i| {
            tables
                .iter()
                .map(|(b, perms)| {
                    let bf = *b as f64;
                    let mut rest = i;
                    let mut scale = 1.0 / bf;
                    let mut u = 0.0;
                    for perm in perms {
                        u += perm[(rest % b) as usize] as f64 * scale;
                        rest /= b;
                        scale /= bf;
                    }
                    u.min(1.0 - f64::EPSILON)
                })
                .collect()
        })
        .collect()
}
