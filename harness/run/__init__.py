"""The run: recipe, pipeline, stages, resume, checkpoints, sweeps, data preparation."""
