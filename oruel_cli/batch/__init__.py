"""Batch jobs (`oruel run`): the pure logic around the engine.

- ``reader``: stream a JSONL input, one ``BatchLine`` per non-blank line, in any
  of the three forms (prompt, messages, OpenAI Batch API request), with the
  line's id, raw parameters and, for a line that cannot run, its error.
- ``records``: the output records, in the shapes oruel promises (forms 1-2 and
  OpenAI's batch output), for a success or an error.
- ``output``: where the output goes, the overwrite/resume rules (an atomic
  rewrite that keeps only whole success records), and a writer that appends
  each record as one whole, flushed, fsynced line.

Nothing here loads a model or imports llama_cpp.
"""
