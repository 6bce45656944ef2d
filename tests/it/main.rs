mod curvature;
fn main(){}
