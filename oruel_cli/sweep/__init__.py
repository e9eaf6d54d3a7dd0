"""ask --sweep: one prompt under every combination of values, in one batch."""
