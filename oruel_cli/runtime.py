"""RUNTIME settings (context, threads, GPU layers, repacking, flash attention) and where
each came from.

The repack decision lives here and nowhere else: every place that loads a model
asks `RuntimeSettings.repack`, so no loader can forget the AMX crash. So does
the flash-attention decision (`RuntimeSettings.flash_attn`), which every
context the engine makes follows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
REPACK_CHOICES = ("auto", "on", "off")  # --repack, runtime.repack (config.RuntimeConfig)
FLASH_ATTN_CHOICES = ("auto", "on", "off")  # --flash-attn, runtime.flash_attn


def read_cpuinfo(path: Path = CPUINFO) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def cpu_has_amx(cpuinfo: str | None) -> bool:
    """True when any CPU's flags include amx_int8 (Sapphire Rapids and later Xeons)."""
    if not cpuinfo:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and "amx_int8" in line.split(":", 1)[-1].split():
            return True
    return False


def decide_repack(setting: str, source: str, cpuinfo: str | None) -> tuple[bool, str]:
    """Whether llama.cpp may use its extra buffer types (AMX, CPU repacking), and why.

    llama.cpp as vendored in llama-cpp-python 0.3.36 moves Q4/Q8/K-quant weights
    into its AMX buffer type on AMX CPUs and then segfaults on the first decode
    (ggml-org/llama.cpp#20824). So `auto` turns it off there and leaves it on
    elsewhere; `on` is for builds that carry the upstream fix.
    """
    if setting == "on":
        return True, source
    if setting == "off":
        return False, source
    if not cpuinfo:  # None (unreadable) or empty: nothing to decide from
        return True, "auto: cpuinfo unreadable, assuming no AMX"
    if cpu_has_amx(cpuinfo):
        return False, "auto: AMX CPU"
    return True, "auto: no AMX"


def physical_cores(cpuinfo: str | None) -> int:
    """Physical cores (hyperthreads share a core's arithmetic), else the logical count."""
    logical = os.cpu_count() or 1
    if not cpuinfo:
        return logical
    cores = set()
    phys = core = None
    for line in cpuinfo.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((phys, core))
            phys = core = None
    return min(len(cores), logical) if cores else logical


@dataclass
class RuntimeSettings:
    """Effective runtime settings; `sources` says where each came from."""

    ctx: int | None = None  # per sequence; None: the model's training context, capped
    threads: int = 1
    gpu_layers: int = 0
    repack: bool = True
    repack_why: str = "auto: no AMX"
    sources: dict[str, str] = field(default_factory=dict)

    flash_attn_setting: str = "auto"  # --flash-attn: auto, on or off

    @property
    def flash_attn(self) -> str:
        """What llama.cpp is told: "on", "off" or "auto" (it decides per device).

        `auto` is llama.cpp's auto with layers offloaded and off on the CPU,
        where flash attention helps shallow contexts and hurts deep ones.
        Measured on the default model, 2 threads, -fa on against off
        (llama-bench, llama-batched-bench): one sequence decodes 156 against
        133 tokens/s at depth 0, level at 128, 98 against 110 at 512, 47
        against 80 at 1500; 8 sequences with 40-token prompts and 128-token
        replies decode 210 against 171 (level at depth ~400, 97 against 104 at
        1000); prompts are read 5-10% faster. A chat goes deep, so auto leaves
        it off. `on` is for batch jobs of short prompts (run, serve), where it
        gains ~15% (benchmarks/batch_speed.py: 143 against 125), at a price: the CPU kernel sums in half precision, so a
        greedy reply can differ from ask's where the top two tokens are close
        (a logit gap of 0.61 tipped in the tests' prompts).
        """
        if self.flash_attn_setting != "auto":
            return self.flash_attn_setting
        return "auto" if self.gpu_layers != 0 else "off"

    def lines(self) -> list[str]:
        ctx = "model default" if self.ctx is None else str(self.ctx)
        if self.flash_attn_setting != "auto":
            fa = f"{self.flash_attn} ({self.sources.get('flash_attn', 'default')})"
        elif self.flash_attn == "auto":
            fa = "auto (layers offloaded)"
        else:
            fa = "off (auto: CPU)"
        return [
            f"ctx = {ctx} ({self.sources.get('ctx', 'default')})",
            f"threads = {self.threads} ({self.sources.get('threads', 'default')})",
            f"gpu_layers = {self.gpu_layers} ({self.sources.get('gpu_layers', 'default')})",
            f"flash_attn = {fa}",
            f"repack = {'on' if self.repack else 'off'} ({self.repack_why})",
        ]


def resolve_runtime(
    flags: dict[str, object | None],
    config: dict[str, object | None],
    tier: dict[str, object | None] | None = None,
    tier_name: str = "",
    cpuinfo: str | None = None,
    gpu_offload: bool = False,
) -> RuntimeSettings:
    """Layer runtime values: default < config < tier profile < flag."""
    cpuinfo = read_cpuinfo() if cpuinfo is None else cpuinfo
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for src, layer in (
        ("config", config),
        (f"config tier {tier_name}", tier or {}),
        ("flag", flags),
    ):
        for key, value in layer.items():
            if value is not None:
                values[key], sources[key] = value, src
    repack, why = decide_repack(
        str(values.get("repack", "auto")), sources.get("repack", "default"), cpuinfo
    )
    gpu_default = -1 if gpu_offload else 0
    return RuntimeSettings(
        ctx=values.get("ctx"),  # type: ignore[arg-type]
        threads=int(values.get("threads") or physical_cores(cpuinfo)),  # type: ignore[arg-type]
        gpu_layers=int(values.get("gpu_layers", gpu_default)),  # type: ignore[arg-type]
        repack=repack,
        repack_why=why,
        flash_attn_setting=str(values.get("flash_attn", "auto")),
        sources=sources,
    )
