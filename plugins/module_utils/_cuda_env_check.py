# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checks of a CUDA environment, made the way an operator makes them (module cuda_env_check).

One login shell answers every shell question at once (`command -v nvcc`, ``$CUDA_HOME``, ``$CUDA_HOME/bin/nvcc
--version``, the header and libcudart under ``$CUDA_HOME``): its answers are framed by marker lines carrying a random
token, so whatever /etc/profile prints is not mistaken for an answer. ``ldconfig -p`` and ``systemctl show`` are asked
once each. Every check is judged, and all failures are reported together, each naming what is wrong and what to check.
Plain functions over a ``run(argv) -> CommandResult`` callable, so tests give them fake shells.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import uuid

from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda_parse import libcudart_entries, parse_ldconfig_cache

LOGIN_SHELL = ("bash", "-lc")
# ldconfig lives in /sbin, which a non-root PATH may lack.
SBIN_DIRS = ("/usr/sbin", "/sbin")

# The shell questions, by name. Each is asked only when a check needs its answer.
LOGIN_PROBES = {
    "nvcc": "command -v nvcc",
    "cuda_home": 'printf "%s" "$CUDA_HOME"',
    "home_nvcc": '"$CUDA_HOME/bin/nvcc" --version',
    "home_include": 'ls "$CUDA_HOME/include/cuda_runtime.h"',
    "home_libcudart": (
        'if [ -d "$CUDA_HOME/lib64" ]; then ls "$CUDA_HOME"/lib64/libcudart.so*; '
        'else ls "$CUDA_HOME"/lib/libcudart.so*; fi'
    ),
}


def check(name, ok, msg):
    """One judged check: what was checked, whether it passed, and what was seen (and what to do when it failed)."""
    return {"name": name, "ok": bool(ok), "msg": msg}


def login_script(probes, token):
    """A POSIX shell script that answers each probe between '<token> begin NAME' and '<token> end NAME RC' lines."""
    lines = []
    for name in probes:
        lines.append(f"printf '\\n%s begin %s\\n' '{token}' '{name}'")
        lines.append(f"{{ {LOGIN_PROBES[name]} ; }} 2>&1 </dev/null; __gpufleet_rc=$?")
        lines.append(f"printf '\\n%s end %s %s\\n' '{token}' '{name}' \"$__gpufleet_rc\"")
    return "\n".join(lines) + "\n"


def parse_login_output(text, token):
    """{name: (rc, output)} of the probes the login shell answered (output stripped of the framing newlines)."""
    answers = {}
    current, body = None, []
    for line in text.split("\n"):
        parts = line.split(" ")
        if parts[0] == token and len(parts) >= 3:
            if parts[1] == "begin":
                current, body = parts[2], []
            elif parts[1] == "end" and current == parts[2] and len(parts) == 4:
                try:
                    rc = int(parts[3])
                except ValueError:
                    rc = -1
                answers[current] = (rc, "\n".join(body).strip("\n"))
                current = None
            continue
        if current is not None:
            body.append(line)
    return answers


def ask_login_shell(run, probes, shell=LOGIN_SHELL, timeout=60):
    """Ask one login shell every probe; return ({name: (rc, output)}, a note on the shell itself or None)."""
    if not probes:
        return {}, None
    token = "@@gpufleet-" + uuid.uuid4().hex
    result = run([*shell, login_script(probes, token)], timeout)
    answers = parse_login_output(result.stdout, token)
    note = None
    if len(answers) < len(probes):
        detail = (result.stderr or result.stdout).strip().splitlines()
        note = f"`{' '.join(shell)}` answered {len(answers)} of {len(probes)} questions (rc {result.rc}" + (
            f": {detail[-1]})" if detail else ")"
        )
    return answers, note


def _unanswered(note):
    return f"the login shell gave no answer ({note})"


def _last_line(text, default="no output"):
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else default


def check_login_nvcc(answers, note, nvcc, profile_script):
    if "nvcc" not in answers:
        return check("login shell nvcc", False, f"which nvcc a login shell runs: {_unanswered(note)}")
    rc, out = answers["nvcc"]
    found = out.strip()
    if rc == 0 and found == nvcc:
        return check("login shell nvcc", True, f"a login shell runs {nvcc}")
    return check(
        "login shell nvcc",
        False,
        f"a login shell does not run {nvcc}: `bash -lc 'command -v nvcc'` gave '{found}' (rc {rc}); "
        f"is {profile_script} sourced by /etc/profile, or does a later script reorder PATH?",
    )


def _same_dir(left, right):
    """Equal directories, counting /lib/... and /usr/lib/... as one (ldconfig names either on a merged /usr)."""

    def unmerged(path):
        path = os.path.normpath(path)
        return path[4:] if path.startswith("/usr/") else path

    return unmerged(left) == unmerged(right)


def check_ldconfig(result, lib_dir, ld_conf):
    name = "linker libcudart"
    if result.rc != 0:
        return check(
            name, False, f"`ldconfig -p` failed (rc {result.rc}: {_last_line(result.stderr or result.stdout)})"
        )
    entries = libcudart_entries(parse_ldconfig_cache(result.stdout))
    if any(_same_dir(os.path.dirname(path), lib_dir) for _lib, path in entries):
        return check(name, True, f"`ldconfig -p` lists libcudart from {lib_dir}")
    listed = "; ".join(f"{lib} => {path}" for lib, path in entries) or "no libcudart at all"
    return check(
        name,
        False,
        f"`ldconfig -p` lists no libcudart from {lib_dir} (it lists: {listed}); check {ld_conf} and run ldconfig.",
    )


def check_cuda_home(answers, note, params):
    """The checks of CUDA_HOME in a login shell: its value, then bin/nvcc, include and lib64 under it."""
    hint = f"check {params['profile_script']}" + (
        f" and the links in {params['home_links_dir']}" if params.get("home_links_dir") else ""
    )
    checks = []
    expected = params["cuda_home"]
    if expected is not None:
        if "cuda_home" not in answers:
            checks.append(check("CUDA_HOME", False, f"CUDA_HOME in a login shell: {_unanswered(note)}"))
        else:
            seen = answers["cuda_home"][1]
            checks.append(
                check("CUDA_HOME", True, f"CUDA_HOME in a login shell is {expected}")
                if seen == expected
                else check("CUDA_HOME", False, f"CUDA_HOME in a login shell is '{seen}' (expected {expected}); {hint}.")
            )
    release = params.get("cuda_release")
    if release:
        wanted = f"release {release},"
        if "home_nvcc" not in answers:
            checks.append(check("CUDA_HOME nvcc", False, f"$CUDA_HOME/bin/nvcc --version: {_unanswered(note)}"))
        else:
            rc, out = answers["home_nvcc"]
            checks.append(
                check("CUDA_HOME nvcc", True, f"$CUDA_HOME/bin/nvcc --version says {wanted[:-1]}")
                if rc == 0 and wanted in out
                else check(
                    "CUDA_HOME nvcc",
                    False,
                    f"$CUDA_HOME/bin/nvcc --version: rc {rc}, {_last_line(out)} (expected '{wanted}'); {hint}.",
                )
            )
    for key, name, what in (
        ("home_include", "CUDA_HOME include", "$CUDA_HOME/include/cuda_runtime.h"),
        ("home_libcudart", "CUDA_HOME libcudart", "$CUDA_HOME/lib64/libcudart.so* (lib/ when there is no lib64)"),
    ):
        if not params.get(key):
            continue
        if key not in answers:
            checks.append(check(name, False, f"{what}: {_unanswered(note)}"))
            continue
        rc, out = answers[key]
        checks.append(
            check(name, True, f"{what}: {_last_line(out)}")
            if rc == 0
            else check(name, False, f"{what}: {_last_line(out, 'not found')}; {hint}.")
        )
    return checks


def check_service(service, result, env_file, dropin_name):
    name = f"service {service}"
    dropin = f"/etc/systemd/system/{service}.service.d/{dropin_name}"
    shown = (result.stdout or "").strip()
    if result.rc != 0:
        return check(
            name,
            False,
            f"`systemctl show {service}.service` failed (rc {result.rc}: {_last_line(result.stderr or shown)}); "
            f"is systemd running, and is the drop-in {dropin} there?",
        )
    if env_file in shown:
        return check(name, True, f"{service}.service reads {env_file}")
    return check(
        name,
        False,
        f"{service}.service does not read {env_file} (systemctl show gives '{shown}'); is the drop-in {dropin} "
        "there and systemd reloaded?",
    )


def find_ldconfig(environ_path):
    """The ldconfig a shell would run, else the one in /usr/sbin or /sbin; None when there is none."""
    search = ":".join([environ_path or "", *SBIN_DIRS])
    return shutil.which("ldconfig", path=search)


def run_checks(params, run, environ_path=None, shell=LOGIN_SHELL):
    """Every check params ask for, in order: login shell nvcc, linker, CUDA_HOME, services. Returns the checks.

    params: nvcc, cuda_home, cuda_release, home_include, home_libcudart, libcudart_dir, services, env_file,
    profile_script, ld_conf, home_links_dir, dropin_name, timeout (the module's options).
    run(argv, timeout) returns a CommandResult (module_utils/_command.run_command).
    """
    timeout = params.get("timeout") or 60
    probes = []
    if params.get("nvcc"):
        probes.append("nvcc")
    if params.get("cuda_home") is not None:
        probes.append("cuda_home")
    if params.get("cuda_release"):
        probes.append("home_nvcc")
    for key in ("home_include", "home_libcudart"):
        if params.get(key):
            probes.append(key)
    answers, note = ask_login_shell(run, probes, shell, timeout)

    checks = []
    if params.get("nvcc"):
        checks.append(check_login_nvcc(answers, note, params["nvcc"], params["profile_script"]))
    if params.get("libcudart_dir"):
        ldconfig = find_ldconfig(environ_path)
        if ldconfig is None:
            checks.append(check("linker libcudart", False, "no ldconfig on PATH, in /usr/sbin or in /sbin"))
        else:
            checks.append(check_ldconfig(run([ldconfig, "-p"], timeout), params["libcudart_dir"], params["ld_conf"]))
    checks.extend(check_cuda_home(answers, note, params))
    for service in params.get("services") or []:
        result = run(["systemctl", "show", f"{service}.service", "--property=EnvironmentFiles"], timeout)
        checks.append(check_service(service, result, params["env_file"], params["dropin_name"]))
    return checks


def failure_message(checks):
    """One message listing every failed check, or None when all passed."""
    failed = [item for item in checks if not item["ok"]]
    if not failed:
        return None
    listed = " ".join(f"({number}) {item['name']}: {item['msg']}" for number, item in enumerate(failed, 1))
    return f"{len(failed)} of {len(checks)} checks of the CUDA environment failed: {listed}"
