"""Hugging Face models: REFs (ref), the cache read offline (cache), the hub's answers
(remote), resumable checked downloads (download), pulling (pull), removing (remove).

Everything goes through huggingface_hub and its cache, so a model pulled by
another tool is not pulled twice, and one oruel pulled is there for the others.
"""
