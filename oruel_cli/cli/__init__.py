"""The command-line layer: one module per command group, thin by design."""
