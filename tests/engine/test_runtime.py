"""RUNTIME settings and the repack decision (issue 11): llama.cpp's weight
repacking is off on Intel AMX CPUs (where it crashes) and on elsewhere, unless
overridden; layering default < config < tier < flag; the thread default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oruel_cli import runtime
from oruel_cli.runtime import (
    RuntimeSettings,
    cpu_has_amx,
    decide_repack,
    physical_cores,
    read_cpuinfo,
    resolve_runtime,
)

# A Sapphire Rapids Xeon (abridged to the fields that matter, flags in full order).
SPR_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts "
    "acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art "
    "arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni "
    "pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca "
    "sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm "
    "abm 3dnowprefetch cpuid_fault epb cat_l3 cat_l2 cdp_l3 invpcid_single intel_ppin "
    "cdp_l2 ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow flexpriority ept vpid "
    "ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a avx512f "
    "avx512dq rdseed adx smap avx512ifma clflushopt clwb intel_pt avx512cd sha_ni "
    "avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc "
    "cqm_mbm_total cqm_mbm_local split_lock_detect avx_vnni avx512_bf16 wbnoinvd dtherm "
    "ida arat pln pts hwp hwp_act_window hwp_epp hwp_pkg_req avx512vbmi umip pku ospke "
    "waitpkg avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg tme "
    "avx512_vpopcntdq la57 rdpid bus_lock_detect cldemote movdiri movdir64b enqcmd fsrm "
    "md_clear serialize tsxldtrk pconfig arch_lbr ibt amx_bf16 avx512_fp16 amx_tile "
    "amx_int8 flush_l1d arch_capabilities"
)
EPYC_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx "
    "fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good "
    "nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma "
    "cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm "
    "cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit "
    "wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 "
    "invpcid_single hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep "
    "bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt "
    "clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc "
    "cqm_occup_llc cqm_mbm_total cqm_mbm_local avx512_bf16 clzero irperf xsaveerptr rdpru "
    "wbnoinvd amd_ppin cppc arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean "
    "flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif "
    "x2avic v_spec_ctrl vnmi avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq "
    "avx512_vnni avx512_bitalg avx512_vpopcntdq la57 rdpid overflow_recov succor smca "
    "fsrm flush_l1d"
)


def cpuinfo(model: str, flags: str, sockets: int = 1, cores: int = 2, threads: int = 2) -> str:
    """A /proc/cpuinfo text: one block per logical CPU, blank-line separated."""
    blocks = []
    n = 0
    for sock in range(sockets):
        for _thread in range(threads):
            for core in range(cores):
                blocks.append(
                    f"processor\t: {n}\n"
                    f"vendor_id\t: {'AuthenticAMD' if 'EPYC' in model else 'GenuineIntel'}\n"
                    f"model name\t: {model}\n"
                    f"physical id\t: {sock}\n"
                    f"siblings\t: {cores * threads}\n"
                    f"core id\t\t: {core}\n"
                    f"cpu cores\t: {cores}\n"
                    f"flags\t\t: {flags}\n"
                )
                n += 1
    return "\n".join(blocks) + "\n"


SPR = cpuinfo("Intel(R) Xeon(R) Platinum 8480+", SPR_FLAGS)
EPYC = cpuinfo("AMD EPYC 9654 96-Core Processor", EPYC_FLAGS)


# --- AMX detection ------------------------------------------------------------------


def test_sapphire_rapids_has_amx():
    assert cpu_has_amx(SPR)


def test_epyc_has_no_amx():
    assert not cpu_has_amx(EPYC)


def test_only_amx_int8_in_a_flags_line_counts():
    assert cpu_has_amx("flags\t\t: sse sse2 amx_int8\n")
    assert not cpu_has_amx("flags\t\t: amx_bf16 amx_tile\n")  # no int8 kernels used
    assert not cpu_has_amx("model name\t: amx_int8 lookalike\nflags\t\t: sse\n")
    assert not cpu_has_amx("flags\t\t: amx_int8x avx\n")  # a whole flag, not a prefix


@pytest.mark.parametrize("text", [None, ""])
def test_unreadable_cpuinfo_has_no_amx(text):
    assert not cpu_has_amx(text)


def test_read_cpuinfo(tmp_path: Path):
    p = tmp_path / "cpuinfo"
    p.write_text(SPR)
    assert read_cpuinfo(p) == SPR
    assert read_cpuinfo(tmp_path / "missing") is None


# --- the repack decision ---------------------------------------------------------------


def test_auto_is_off_on_amx():
    assert decide_repack("auto", "default", SPR) == (False, "auto: AMX CPU")


def test_auto_is_on_without_amx():
    assert decide_repack("auto", "default", EPYC) == (True, "auto: no AMX")


@pytest.mark.parametrize("text", [None, ""])
def test_auto_with_unreadable_cpuinfo_is_on(text):
    assert decide_repack("auto", "default", text) == (
        True,
        "auto: cpuinfo unreadable, assuming no AMX",
    )


@pytest.mark.parametrize("source", ["flag", "config", "config tier turbo"])
def test_overrides_win_both_ways(source):
    assert decide_repack("on", source, SPR) == (True, source)
    assert decide_repack("off", source, EPYC) == (False, source)
    assert decide_repack("on", source, EPYC) == (True, source)
    assert decide_repack("off", source, SPR) == (False, source)


# --- physical cores --------------------------------------------------------------------


@pytest.fixture
def many_cpus(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)


def test_hyperthreads_count_once(many_cpus):
    assert physical_cores(cpuinfo("Xeon", SPR_FLAGS, sockets=1, cores=4, threads=2)) == 4


def test_sockets_are_told_apart(many_cpus):
    assert physical_cores(cpuinfo("Xeon", SPR_FLAGS, sockets=2, cores=3, threads=2)) == 6


def test_no_hyperthreads(many_cpus):
    assert physical_cores(cpuinfo("EPYC", EPYC_FLAGS, sockets=1, cores=5, threads=1)) == 5


def test_never_more_than_the_logical_count(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert physical_cores(cpuinfo("Xeon", SPR_FLAGS, sockets=1, cores=8, threads=2)) == 2


@pytest.mark.parametrize("text", [None, "", "processor\t: 0\nflags\t\t: sse\n"])
def test_without_core_ids_the_logical_count(monkeypatch, text):
    monkeypatch.setattr(os, "cpu_count", lambda: 12)
    assert physical_cores(text) == 12


# --- resolve_runtime: default < config < tier < flag -----------------------------------

EMPTY = {"ctx": None, "threads": None, "gpu_layers": None, "repack": None}


def test_defaults(many_cpus):
    info = cpuinfo("EPYC", EPYC_FLAGS, cores=6, threads=2)
    rt = resolve_runtime({}, dict(EMPTY), None, cpuinfo=info)
    assert rt.ctx is None and rt.threads == 6 and rt.gpu_layers == 0
    assert (rt.repack, rt.repack_why) == (True, "auto: no AMX")
    assert rt.sources == {}
    assert rt.lines() == [
        "ctx = model default (default)",
        "threads = 6 (default)",
        "gpu_layers = 0 (default)",
        "flash_attn = off (auto: CPU)",
        "repack = on (auto: no AMX)",
    ]
    assert resolve_runtime({}, {}, cpuinfo=info, gpu_offload=True).gpu_layers == -1


def test_amx_default_shows_why():
    rt = resolve_runtime({}, dict(EMPTY), cpuinfo=SPR)
    assert rt.repack is False
    assert rt.lines()[-1] == "repack = off (auto: AMX CPU)"


def test_layering_config_tier_flag():
    config = {"ctx": 2048, "threads": 3, "gpu_layers": 0, "repack": "off"}
    tier = {"ctx": 1024, "threads": None, "gpu_layers": None, "repack": "on"}
    flags = {"ctx": 512}
    rt = resolve_runtime(flags, config, tier, tier_name="turbo", cpuinfo=EPYC)
    assert (rt.ctx, rt.threads, rt.gpu_layers) == (512, 3, 0)
    assert rt.sources == {
        "ctx": "flag",
        "threads": "config",
        "gpu_layers": "config",
        "repack": "config tier turbo",
    }
    assert rt.repack is True
    assert rt.lines() == [
        "ctx = 512 (flag)",
        "threads = 3 (config)",
        "gpu_layers = 0 (config)",
        "flash_attn = off (auto: CPU)",
        "repack = on (config tier turbo)",
    ]


def test_flag_repack_overrides_config_and_tier():
    rt = resolve_runtime({"repack": "off"}, {"repack": "on"}, {"repack": "on"}, "turbo", EPYC)
    assert (rt.repack, rt.repack_why) == (False, "flag")
    assert rt.lines()[-1] == "repack = off (flag)"
    rt = resolve_runtime({"repack": "on"}, {"repack": "off"}, None, cpuinfo=SPR)
    assert (rt.repack, rt.repack_why) == (True, "flag")


def test_config_repack_on_an_amx_cpu():
    rt = resolve_runtime({}, {"repack": "on"}, None, cpuinfo=SPR)
    assert (rt.repack, rt.repack_why) == (True, "config")
    assert rt.lines()[-1] == "repack = on (config)"


def test_explicit_auto_decides_from_the_cpu():
    rt = resolve_runtime({"repack": "auto"}, {"repack": "on"}, None, cpuinfo=SPR)
    assert rt.repack is False and rt.repack_why == "auto: AMX CPU"
    assert rt.sources["repack"] == "flag"


def test_none_values_do_not_hide_lower_layers():
    rt = resolve_runtime(dict(EMPTY), {"threads": 5}, dict(EMPTY), "turbo", EPYC)
    assert rt.threads == 5 and rt.sources == {"threads": "config"}


def test_real_cpuinfo_is_read_when_none_given(monkeypatch):
    monkeypatch.setattr(runtime, "read_cpuinfo", lambda: SPR)
    rt = resolve_runtime({}, {})
    assert rt.repack is False and rt.repack_why == "auto: AMX CPU"


def test_settings_lines_default_object():
    assert RuntimeSettings().lines()[-1] == "repack = on (auto: no AMX)"
    rt = RuntimeSettings(ctx=4096, threads=8, gpu_layers=-1, repack=False, repack_why="flag",
                         sources={"ctx": "config", "gpu_layers": "flag"})  # fmt: skip
    assert rt.lines() == [
        "ctx = 4096 (config)",
        "threads = 8 (default)",
        "gpu_layers = -1 (flag)",
        "flash_attn = auto (layers offloaded)",
        "repack = off (flag)",
    ]


@pytest.mark.parametrize(("gpu_layers", "told"), [(0, "off"), (-1, "auto"), (12, "auto")])
def test_flash_attention_auto_only_with_layers_offloaded(gpu_layers, told):
    assert RuntimeSettings(gpu_layers=gpu_layers).flash_attn == told


@pytest.mark.parametrize("setting", ["on", "off"])
def test_an_explicit_flash_attention_wins_on_any_device(setting):
    for gpu_layers in (0, -1):
        rt = RuntimeSettings(gpu_layers=gpu_layers, flash_attn_setting=setting)
        assert rt.flash_attn == setting


def test_flash_attention_layers_and_shows_where_it_came_from():
    rt = resolve_runtime({}, {"flash_attn": "on"}, None, cpuinfo=EPYC)
    assert rt.flash_attn == "on" and "flash_attn = on (config)" in rt.lines()
    rt = resolve_runtime({"flash_attn": "off"}, {"flash_attn": "on"}, {"flash_attn": "on"}, "turbo",
                         EPYC, gpu_offload=True)  # fmt: skip
    assert rt.flash_attn == "off" and "flash_attn = off (flag)" in rt.lines()
    rt = resolve_runtime({"flash_attn": "auto"}, {"flash_attn": "on"}, None, cpuinfo=EPYC)
    assert rt.flash_attn == "off" and "flash_attn = off (auto: CPU)" in rt.lines()
