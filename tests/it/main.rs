mod nn;
mod optim;
