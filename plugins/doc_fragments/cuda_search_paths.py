# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Where CUDA toolkits are looked for; shared by every module that discovers CUDA.
    DOCUMENTATION = r"""
options:
  cuda_search_paths:
    description:
      - Directories, or shell-style globs of directories, that may hold a CUDA toolkit.
      - Entries may start with an environment variable of the remote host (V($CUDA_HOME), V($CUDA_PATH)); an entry
        whose variable is unset is skipped. V(~) is expanded. Every other entry must be an absolute path.
      - When not set, V($CUDA_HOME), V($CUDA_PATH), V(/usr/local/cuda), V(/usr/local/cuda-*), V(/opt/cuda) and
        V(/usr/lib/cuda) are searched, and the toolkit of the C(nvcc) found on E(PATH) and the distribution's toolkit
        in V(/usr) (C(/usr/bin/nvcc), Debian and Ubuntu C(nvidia-cuda-toolkit)) are added.
    type: list
    elements: path
"""
