//! Writes the gallery figure `hessian-vs-ggn` into plots/ and prints its caption and numbers:
//! `cargo run --release --example hessian_vs_ggn`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fig = critpt::gallery::run_one("hessian-vs-ggn", std::path::Path::new("plots"))?;
    println!("{}", fig.summary());
    Ok(())
}
