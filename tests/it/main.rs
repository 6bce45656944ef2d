mod find;
fn main() {}
