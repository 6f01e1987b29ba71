"""Tests of benchmarks/ (at the top of the checkout, outside the package): the benchmark's inputs, and its baselines
giving the pipeline's tables."""
