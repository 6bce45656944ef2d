//! Writes the gallery figure `sharpness` into plots/ and prints its caption and numbers:
//! `cargo run --release --example sharpness`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("sharpness", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
