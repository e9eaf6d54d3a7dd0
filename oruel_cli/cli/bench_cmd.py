"""`oruel bench`."""


def bench() -> None:
    """Decode speed on this machine."""
    raise NotImplementedError
