//! Writes the gallery figure `minimum-ratio` into plots/ and prints its caption and numbers:
//! `cargo run --release --example minimum_ratio`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("minimum-ratio", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
