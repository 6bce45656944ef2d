//! Writes the gallery figure `adaptive` into plots/ and prints its caption and numbers:
//! `cargo run --release --example adaptive`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("adaptive", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
