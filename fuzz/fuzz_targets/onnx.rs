//! cargo-fuzz target: see `entries::onnx`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::onnx(data));
