//! Critical-point search with default settings (a first round of 128 starts, then rounds that
//! double the total until one finds nothing new): Himmelblau over [-5, 5]² (two rounds, 256
//! starts) and the 2-D Rastrigin function over [-2.2, 2.2]² (81 points, three or four rounds).

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::critical::{find_critical_points, SearchBox, SearchOptions};
use critpt::expr::Formula;
use std::hint::black_box;

fn bench_find(c: &mut Criterion) {
    let s = critpt::surfaces::by_name("himmelblau").expect("built-in surface");
    let f = s.formula();
    let bx = SearchBox::try_new(&s.plot_box).expect("valid box");
    let opts = SearchOptions::default();
    c.bench_function("find_himmelblau_default", |b| {
        b.iter(|| {
            let res = find_critical_points(black_box(&f), &bx, &opts).expect("search runs");
            assert_eq!(res.points.len(), 9);
            res
        })
    });
    let no_paths = SearchOptions::default().with_record_paths(false);
    c.bench_function("find_himmelblau_default_no_paths", |b| {
        b.iter(|| find_critical_points(black_box(&f), &bx, &no_paths).expect("search runs"))
    });
    // A fixed search: one round of 256 starts.
    let fixed = SearchOptions::default()
        .with_starts(256)
        .and_then(|o| o.with_max_rounds(1))
        .expect("valid options");
    c.bench_function("find_himmelblau_one_round_of_256", |b| {
        b.iter(|| find_critical_points(black_box(&f), &bx, &fixed).expect("search runs"))
    });
    let r = Formula::parse("20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)").expect("parses");
    let rbx = SearchBox::try_new(&[(-2.2, 2.2), (-2.2, 2.2)]).expect("valid box");
    let mut group = c.benchmark_group("rastrigin");
    group.sample_size(20);
    for seed in [0u64, 2] {
        let opts = SearchOptions::default()
            .with_seed(seed)
            .with_record_paths(false);
        group.bench_function(format!("find_rastrigin_default_seed_{seed}"), |b| {
            b.iter(|| {
                let res = find_critical_points(black_box(&r), &rbx, &opts).expect("search runs");
                assert_eq!(res.points.len(), 81);
                res
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_find);
criterion_main!(benches);
