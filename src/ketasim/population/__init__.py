"""Virtual populations and trials: covariates, variability, batched kernels, summaries."""
