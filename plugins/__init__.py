"""First-party plugins: each subpackage is registered through the `harness` entry-point group."""
