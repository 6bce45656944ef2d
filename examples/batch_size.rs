//! Writes the gallery figure `batch-size` into plots/ and prints its caption and numbers:
//! `cargo run --release --example batch_size`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("batch-size", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
