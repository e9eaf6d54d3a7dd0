"""`oruel run`: JSONL batch jobs."""


def run() -> None:
    """Run a JSONL batch job."""
    raise NotImplementedError
