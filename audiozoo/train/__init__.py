"""Training a model on a representation: settings, the loop, checkpoints and the run directory."""
