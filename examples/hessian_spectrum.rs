//! Writes the gallery figure `hessian-spectrum` into plots/ and prints its caption and numbers:
//! `cargo run --release --example hessian_spectrum`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("hessian-spectrum", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
