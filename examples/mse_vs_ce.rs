//! Writes the gallery figure `mse-vs-ce` into plots/ and prints its caption and numbers:
//! `cargo run --release --example mse_vs_ce`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("mse-vs-ce", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
