//! Writes the gallery figure `critical-points` into plots/ and prints its caption and numbers:
//! `cargo run --release --example critical_points`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("critical-points", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
