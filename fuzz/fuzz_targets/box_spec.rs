//! cargo-fuzz target: see `entries::box_spec`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::box_spec(data));
