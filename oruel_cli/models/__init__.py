"""Models: `--model` resolution, the embedded default, and GGUF header reading.

Nothing here imports llama_cpp: a model file is checked (and described for
`oruel models info`) by reading its GGUF header in pure Python.
"""
