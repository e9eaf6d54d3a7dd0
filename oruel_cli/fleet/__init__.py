"""A batch job over remote endpoints (`oruel run --endpoint`): the scheduler
that spreads lines over the servers, and the pure logic under it.

- ``backoff``: exponential backoff with jitter, Retry-After as a floor.
- ``rotation``: each endpoint's state (up, cooling down, out of rotation until
  a probe answers, unusable) and which one takes the next line.
- ``job``: the job itself, keeping every promise of a local job (records,
  resume, progress, summary) with retries elsewhere.
"""
