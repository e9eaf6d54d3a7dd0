"""The parameter model, its catalogue and the layering of sources."""
