//! Writes the gallery figure `batchnorm` into plots/ and prints its caption and numbers:
//! `cargo run --release --example batchnorm`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("batchnorm", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
