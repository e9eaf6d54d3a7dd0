"""llama-cpp-python's ctypes bindings, without the rest of the package.

`import llama_cpp` runs the package's __init__, which imports the high-level
`Llama` class, numpy and the chat-format helpers: about 0.1 s that oruel never
uses (it talks to llama.cpp through the low-level API only). When nothing has
imported the package yet, a bare package module stands in for it, so only
`llama_cpp.llama_cpp` (the bindings) and what it needs are loaded.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _bindings() -> types.ModuleType:
    if "llama_cpp" not in sys.modules:
        spec = importlib.util.find_spec("llama_cpp")
        if spec is not None and spec.submodule_search_locations:
            pkg = types.ModuleType("llama_cpp")
            pkg.__path__ = list(spec.submodule_search_locations)
            pkg.__spec__ = spec
            pkg.__file__ = spec.origin
            sys.modules["llama_cpp"] = pkg
    import llama_cpp.llama_cpp as bindings

    pkg = sys.modules["llama_cpp"]
    for name, value in vars(bindings).items():  # `import llama_cpp as lc` works as before
        if not name.startswith("__"):
            pkg.__dict__.setdefault(name, value)
    return bindings


lc = _bindings()
