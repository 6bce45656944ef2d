fn main(){}
mod plot;
