mod optim;
fn main(){}
