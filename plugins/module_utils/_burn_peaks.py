# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dense peak TFLOPS per GPU model variant and dtype, each with the source of its figures."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


# Dense (no sparsity) peak TFLOPS of the GEMM each dtype runs on, per model variant: tensor cores where cuBLAS uses
# them (bf16/fp16/tf32, and FP64 DMMA on Hopper and A100), the FP32 CUDA-core rate for fp32. Matched on the name NVML
# reports, first match wins; a model that matches nothing has no peak and fraction_of_peak is not judged. Each
# figure is NVIDIA's datasheet number for the variant (the sparsity figure halved where only that is printed).
# Entries whose source says "recalled" were written from memory of the datasheet, not checked against it here:
# confirm them before holding a fleet to a tight min_fraction_of_peak.
_HOPPER_SXM = {"bf16": 989.0, "fp16": 989.0, "tf32": 495.0, "fp32": 67.0, "fp64": 67.0}
_HOPPER_NVL = {"bf16": 835.0, "fp16": 835.0, "tf32": 418.0, "fp32": 60.0, "fp64": 60.0}
PEAK_TFLOPS = (
    # H100 NVL datasheet (per GPU): BF16/FP16 1,671 and TF32 835 with sparsity; FP32 60, FP64 tensor 60.
    (r"\bH100 NVL\b", _HOPPER_NVL, "NVIDIA H100 NVL datasheet (recalled)"),
    # H100 PCIe datasheet: BF16/FP16 1,513 and TF32 756 with sparsity; FP32 51, FP64 tensor 51.
    (
        r"\bH100 PCIe\b",
        {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0, "fp32": 51.0, "fp64": 51.0},
        "NVIDIA H100 PCIe datasheet",
    ),
    # H100 SXM5 ("NVIDIA H100 80GB HBM3"): BF16/FP16 1,979 and TF32 989 with sparsity; FP32 67, FP64 tensor 67.
    (r"\bH100 80GB HBM3\b|\bH100 SXM", _HOPPER_SXM, "NVIDIA H100 SXM5 datasheet"),
    # H200 NVL datasheet: the same figures as H100 NVL (BF16 1,671 and TF32 835 sparse; FP32 60, FP64 tensor 60).
    (r"\bH200 NVL\b", _HOPPER_NVL, "NVIDIA H200 NVL datasheet (recalled)"),
    # H200 SXM ("NVIDIA H200"): the H100 SXM5 compute figures with more and faster memory.
    (r"\bH200\b(?! NVL)", _HOPPER_SXM, "NVIDIA H200 SXM datasheet"),
    # A100 datasheet, SXM4 and PCIe alike: BF16/FP16 312, TF32 156, FP32 19.5, FP64 tensor 19.5 (dense).
    (
        r"\bA100-SXM4\b",
        {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5, "fp64": 19.5},
        "NVIDIA A100 datasheet",
    ),
    (
        r"\bA100\b.*\bPCIe\b",
        {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5, "fp64": 19.5},
        "NVIDIA A100 datasheet",
    ),
    # L40S datasheet: BF16/FP16 362.05 and TF32 183 dense (733 and 366 with sparsity), FP32 91.6 (FP64 not given: no
    # fp64 peak). Checked against the datasheet's table as a vendor reproduces it.
    (r"\bL40S\b", {"bf16": 362.0, "fp16": 362.0, "tf32": 183.0, "fp32": 91.6}, "NVIDIA L40S datasheet"),
    # RTX A6000 datasheet: FP32 38.7; its 309.7 tensor TFLOPS are with sparsity, so BF16/FP16 ~155 and TF32 ~77
    # dense are derived (not printed as such): treat those two as approximate.
    (r"\bRTX A6000\b", {"bf16": 155.0, "fp16": 155.0, "tf32": 77.4, "fp32": 38.7}, "RTX A6000 (derived, approx.)"),
)


def peak_entry(name):
    """(peaks by dtype, source) of the first PEAK_TFLOPS entry matching an NVML name, or (None, None)."""
    for pattern, peaks, source in PEAK_TFLOPS:
        if name and re.search(pattern, name, re.IGNORECASE):
            return peaks, source
    return None, None


def peak_tflops(name, dtype):
    """The dense peak for a GPU model name and dtype, or None when the model (or its dtype) is not known."""
    peaks, _source = peak_entry(name)
    return None if peaks is None else peaks.get(dtype)
