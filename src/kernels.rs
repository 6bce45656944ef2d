//! The element-wise loops of the op graph's passes, compiled twice: for the baseline target
//! and, on x86-64, for AVX2, picked at run time. The default build targets baseline x86-64
//! (SSE2, two lanes) so that the binary runs on any x86-64 machine; these loops run once per
//! activation per product over data that sits in cache, where four lanes are worth the
//! dispatch.
//!
//! Both versions perform the same operations in the same order (no FMA: AVX2 alone does not
//! contract `a * b + c`), so they give the same bits and results do not depend on the machine.

/// Defines `pub(crate) fn $name($args)` that runs `$body` compiled for AVX2 when the CPU has
/// it, for the baseline otherwise.
macro_rules! dispatched {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

dispatched! {
    /// `o[i] = a[i] · b[i]` over the shortest of the three.
    fn mul(o: &mut [f64], a: &[f64], b: &[f64]) {
        let n = o.len().min(a.len()).min(b.len());
        let (o, a, b) = (&mut o[..n], &a[..n], &b[..n]);
        for i in 0..n {
            o[i] = a[i] * b[i];
        }
    }
}

dispatched! {
    /// `o[i] = a[i] · r[i] + b[i] · x[i]` over the shortest of the five.
    fn mul_add_mul(o: &mut [f64], a: &[f64], r: &[f64], b: &[f64], x: &[f64]) {
        let n = o.len().min(a.len()).min(r.len()).min(b.len()).min(x.len());
        let (o, a, r, b, x) = (&mut o[..n], &a[..n], &r[..n], &b[..n], &x[..n]);
        for i in 0..n {
            o[i] = a[i] * r[i] + b[i] * x[i];
        }
    }
}

dispatched! {
    /// `d[i] += s · v[i]` over the shorter of the two.
    fn add_scaled(d: &mut [f64], s: f64, v: &[f64]) {
        let n = d.len().min(v.len());
        let (d, v) = (&mut d[..n], &v[..n]);
        for i in 0..n {
            d[i] += s * v[i];
        }
    }
}

dispatched! {
    /// `d[i] += v[i]` over the shorter of the two.
    fn add(d: &mut [f64], v: &[f64]) {
        let n = d.len().min(v.len());
        let (d, v) = (&mut d[..n], &v[..n]);
        for i in 0..n {
            d[i] += v[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(n: usize, seed: u64) -> Vec<f64> {
        (0..n)
            .map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f64 / 7.0 - 60.0)
            .collect()
    }

    /// Each kernel gives the bits of the scalar expression it names, at lengths that leave a
    /// remainder after the vector lanes.
    #[test]
    fn kernels_give_the_bits_of_their_scalar_expressions() {
        for n in [0, 1, 3, 8, 37] {
            let (a, b, r, x) = (vals(n, 1), vals(n, 2), vals(n, 3), vals(n, 4));
            let mut o = vec![0.0; n];
            mul(&mut o, &a, &b);
            assert!((0..n).all(|i| o[i].to_bits() == (a[i] * b[i]).to_bits()));
            mul_add_mul(&mut o, &a, &r, &b, &x);
            assert!((0..n).all(|i| o[i].to_bits() == (a[i] * r[i] + b[i] * x[i]).to_bits()));
            let mut d = a.clone();
            add_scaled(&mut d, -0.3, &b);
            assert!((0..n).all(|i| d[i].to_bits() == (a[i] + -0.3 * b[i]).to_bits()));
            let mut d = a.clone();
            add(&mut d, &b);
            assert!((0..n).all(|i| d[i].to_bits() == (a[i] + b[i]).to_bits()));
        }
    }
}
