//! Writes the gallery figure `momentum` into plots/ and prints its caption and numbers:
//! `cargo run --release --example momentum`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("momentum", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
