"""Paired comparison, statistics, gates and checkpoint selection."""
