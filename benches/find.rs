//! Critical-point search on Himmelblau over [-5, 5]² with the default 256 starts.

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::critical::{find_critical_points, SearchBox, SearchOptions};
use std::hint::black_box;

fn bench_find(c: &mut Criterion) {
    let s = critpt::surfaces::by_name("himmelblau").expect("built-in surface");
    let f = s.formula();
    let bx = SearchBox::try_new(&s.plot_box).expect("valid box");
    let opts = SearchOptions::default();
    c.bench_function("find_himmelblau_256_starts", |b| {
        b.iter(|| {
            let res = find_critical_points(black_box(&f), &bx, &opts).expect("search runs");
            assert_eq!(res.points.len(), 9);
            res
        })
    });
    let no_paths = SearchOptions::default().with_record_paths(false);
    c.bench_function("find_himmelblau_256_starts_no_paths", |b| {
        b.iter(|| find_critical_points(black_box(&f), &bx, &no_paths).expect("search runs"))
    });
}

criterion_group!(benches, bench_find);
criterion_main!(benches);
