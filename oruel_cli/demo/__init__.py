"""params explain --demo: the real next-token distribution under each value."""
