"""Benchmarks and the synthetic data generator they share. Run all with `make bench`."""
