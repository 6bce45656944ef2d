//! Writes the gallery figure `loss-landscape` into plots/ and prints its caption and numbers:
//! `cargo run --release --example loss_landscape`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("loss-landscape", std::path::Path::new("plots"))?;
    println!("{}", fig.path.display());
    if let Ok(out) = &fig.outcome {
        println!("{}", out.caption);
        for (k, v) in &out.numbers {
            println!("  {k} = {v}");
        }
    }
    Ok(())
}
