mod nn;
