//! Writes the gallery figure `schedules` into plots/ and prints its caption and numbers:
//! `cargo run --release --example schedules`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("schedules", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
