"""The thin layer over llama-cpp-python's low-level bindings: backend set-up,
log silencing, model loading (through the one repack decision), tokens."""

from __future__ import annotations

import ctypes
import sys
from functools import lru_cache
from pathlib import Path

from ..errors import RuntimeFailure
from ..models.gguf import check_gguf
from ..runtime import RuntimeSettings
from .bindings import lc

_state = {"verbose": False, "ready": False}


@lc.llama_log_callback
def _log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log goes to stderr only with --verbose."""
    if _state["verbose"]:
        sys.stderr.write(text.decode("utf-8", "replace"))


def init_backend(verbose: bool = False) -> None:
    """Once per process: silence (or show) llama.cpp's log and start its backend.

    `_log` is a module global, so the ctypes callback is never collected.
    """
    _state["verbose"] = verbose
    if not _state["ready"]:
        lc.llama_log_set(_log, ctypes.c_void_p(0))
        lc.llama_backend_init()
        _state["ready"] = True


class LoadedModel:
    """One GGUF model in memory: weights, vocabulary, chat template, token helpers."""

    def __init__(
        self, path: Path, runtime: RuntimeSettings, verbose: bool = False, vocab_only: bool = False
    ) -> None:
        info = check_gguf(path)  # missing, not GGUF, truncated: exit 1 before llama.cpp sees it
        init_backend(verbose)
        mp = lc.llama_model_default_params()
        mp.n_gpu_layers = runtime.gpu_layers
        mp.use_extra_bufts = runtime.repack  # the AMX decision (runtime.decide_repack)
        mp.vocab_only = vocab_only  # ask --show-prompt: tokens and template, no weights
        ptr = lc.llama_model_load_from_file(str(path).encode(), mp)
        if not ptr:
            raise RuntimeFailure(f"{path}: llama.cpp failed to load the model")
        self.path = path
        self.info = info
        self.runtime = runtime
        self.ptr = ptr
        self.vocab = lc.llama_model_get_vocab(ptr)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        self.n_ctx_train = lc.llama_model_n_ctx_train(ptr)
        tmpl = lc.llama_model_chat_template(ptr, None)
        try:
            self.chat_template = tmpl.decode("utf-8") if tmpl else None
        except UnicodeDecodeError as e:  # a broken model file, not an internal error
            self.close()
            raise RuntimeFailure(
                f"{path}: the chat template is not UTF-8 text (byte 0x{e.object[e.start]:02x} "
                f"at offset {e.start})"
            ) from None
        self.template_origin = str(path)  # who to blame when the template fails
        self.bos_text = self._special_text(lc.llama_vocab_bos(self.vocab))
        self.eos_text = self._special_text(lc.llama_vocab_eos(self.vocab))
        self.add_bos = bool(lc.llama_vocab_get_add_bos(self.vocab))
        self._piece = lru_cache(maxsize=None)(self._piece_uncached)

    @property
    def name(self) -> str:
        return self.path.stem

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.token_bytes(token, special=True).decode("utf-8", "replace")

    def token_bytes(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = lc.llama_token_to_piece(self.vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = lc.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def _piece_uncached(self, token: int) -> bytes:
        return self.token_bytes(token)

    def piece(self, token: int) -> bytes:
        """The bytes a generated token adds to the text (special tokens add none)."""
        return self._piece(token)

    def is_eog(self, token: int) -> bool:
        return bool(lc.llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        """Text to tokens; special tokens written in the text (<|im_start|>) are parsed."""
        data = text.encode("utf-8")
        n_max = len(data) + 16
        buf = (lc.llama_token * n_max)()
        n = lc.llama_tokenize(self.vocab, data, len(data), buf, n_max, add_special, True)
        if n < 0:
            n_max = -n
            buf = (lc.llama_token * n_max)()
            n = lc.llama_tokenize(self.vocab, data, len(data), buf, n_max, add_special, True)
        return list(buf[:n])

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """A rendered chat prompt to tokens, with BOS exactly once."""
        if self.bos_text and prompt.startswith(self.bos_text):
            return self.tokenize(prompt, add_special=False)
        return self.tokenize(prompt, add_special=self.add_bos)

    def __enter__(self) -> LoadedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.ptr:
            lc.llama_model_free(self.ptr)
            self.ptr = None
