"""Model families: the template environment their chat templates were written for."""
