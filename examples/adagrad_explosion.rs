//! Writes the gallery figure `adagrad-explosion` into plots/ and prints its caption and numbers:
//! `cargo run --release --example adagrad_explosion`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("adagrad-explosion", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
