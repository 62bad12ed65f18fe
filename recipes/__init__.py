"""Bundled recipes (``harness recipes``), shipped as package data with the training data they read."""
