fn main() {}
mod plot;
