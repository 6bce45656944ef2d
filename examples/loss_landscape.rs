//! Writes the gallery figure `loss-landscape` into plots/ and prints its caption and numbers:
//! `cargo run --release --example loss_landscape`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("loss-landscape", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
