//! Writes the gallery figure `hessian-spectrum` into plots/ and prints its caption and numbers:
//! `cargo run --release --example hessian_spectrum`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("hessian-spectrum", std::path::Path::new("plots"))?;
    println!("{}", fig.path.display());
    if let Ok(out) = &fig.outcome {
        println!("{}", out.caption);
        for (k, v) in &out.numbers {
            println!("  {k} = {v}");
        }
    }
    Ok(())
}
