//! Writes the gallery figure `saddle-escape` into plots/ and prints its caption and numbers:
//! `cargo run --release --example saddle_escape`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("saddle-escape", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
