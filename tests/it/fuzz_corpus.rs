//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same entry points
//! the cargo-fuzz targets call (`fuzz/entries.rs`), on the stable toolchain: none may panic.

#[path = "../../fuzz/entries.rs"]
mod entries;

use std::path::Path;

/// Feeds every file of `fuzz/corpus/<target>` to `entry`; returns how many there were.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    for path in &files {
        let bytes = std::fs::read(path).expect("corpus file reads");
        let result = std::panic::catch_unwind(|| entry(&bytes));
        assert!(result.is_ok(), "{target}: {} panics", path.display());
    }
    files.len()
}

#[test]
fn formula_corpus_replays_without_panic() {
    assert!(replay("formula", entries::formula) > 0);
}

#[test]
fn csv_corpus_replays_without_panic() {
    assert!(replay("csv", entries::csv) > 0);
}

#[test]
fn safetensors_corpus_replays_without_panic() {
    assert!(replay("safetensors", entries::safetensors) > 0);
}

#[test]
fn schedule_corpus_replays_without_panic() {
    assert!(replay("schedule", entries::schedule) > 0);
}

#[test]
fn box_spec_corpus_replays_without_panic() {
    assert!(replay("box_spec", entries::box_spec) > 0);
}

#[test]
fn onnx_corpus_replays_without_panic() {
    assert!(replay("onnx", entries::onnx) > 0);
}
