//! Writes the gallery figure `normalization` into plots/ and prints its caption and numbers:
//! `cargo run --release --example normalization`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("normalization", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
