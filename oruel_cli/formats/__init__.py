"""Model families: how each one's chat template is rendered and how its replies are read."""
