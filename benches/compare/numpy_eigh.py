"""Baseline for benches/eigen.rs: numpy.linalg.eigh (eigenvalues and eigenvectors) on random
symmetric matrices of the same sizes. Prints the median of 5 runs per size.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy
    /tmp/venv/bin/python benches/compare/numpy_eigh.py
"""
import statistics
import time

import numpy as np

rng = np.random.default_rng(7)
for n in (500, 1500, 3000):
    g = rng.standard_normal((n, n))
    a = (g + g.T) / 2
    times = []
    for _ in range(5):
        t = time.perf_counter()
        np.linalg.eigh(a)
        times.append(time.perf_counter() - t)
    print(f"numpy.linalg.eigh n={n}: median {statistics.median(times):.4f} s")
