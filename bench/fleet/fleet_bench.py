"""Converge playbooks/site.yml on fleets of 1 and 10 SIMULATED nodes, then re-run it; compare wall times (see run.sh).

Each phase starts fresh containers (so its first converge is a real first converge), waits for systemd in all of
them, and only then times `ansible-playbook` (ansible.posix.json callback: the PLAY RECAP `stats` and every task's
per-host result, used to name what changed on the re-run). Logs of each run and the fleet report that site.yml
writes (-e fleet_report_dir) go to .build/bench-fleet/, never over the checkout's reports/.
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(REPO, ".build", "bench-fleet")
PLAYBOOK = os.path.join(REPO, "playbooks", "site.yml")
PROFILES = os.path.join(REPO, "tests", "simulators", "profiles")
NODE_PREFIX = "gpufleet-bench-"
# What a run of site.yml depends on; hashed before and after every run to notice edits made during the bench.
SOURCES = ("playbooks", "roles", "plugins", "files")
RATIO_GOAL = 1.5
RERUN_TASKS_GOAL = 20  # tasks per GPU host on an idempotent re-run of site.yml (issue 14)


def source_fingerprint():
    digest = hashlib.sha256()
    for top in SOURCES:
        for root, dirs, files in os.walk(os.path.join(REPO, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(root, name)
                digest.update(os.path.relpath(path, REPO).encode())
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


def default_cuda():
    """The newest NVIDIA CUDA toolkit of this machine (/usr/local/cuda-X.Y with bin/nvcc), or None."""
    found = []
    for name in os.listdir("/usr/local") if os.path.isdir("/usr/local") else []:
        path = os.path.join("/usr/local", name)
        if name.startswith("cuda-") and os.path.isfile(os.path.join(path, "bin", "nvcc")):
            version = tuple(int(part) for part in name[5:].split(".") if part.isdigit())
            found.append((version, path))
    return max(found)[1] if found else None


def node_names(count):
    return ["%s%d" % (NODE_PREFIX, index) for index in range(1, count + 1)]


def docker(*argv, check=True):
    return subprocess.run(["docker", *argv], check=check, capture_output=True, text=True)


def remove_nodes():
    """Remove every gpufleet-bench-<n> container (and only those)."""
    names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    ours = [name for name in names if name.startswith(NODE_PREFIX) and name[len(NODE_PREFIX) :].isdigit()]
    if ours:
        docker("rm", "-f", *ours, check=False)


# The signed apt repository the container_toolkit role installs the toolkit's SIMULATED packages from
# (hack/toolkit-repo.sh), mounted into every node as in molecule/node.yml.
TOOLKIT_REPO = os.path.join(REPO, ".build", "toolkit-repo")
TOOLKIT_REPO_MOUNT = "/srv/nvidia-container-toolkit"


def start_nodes(names, image, profile, cuda=None):
    """Start the nodes like the molecule platforms in .config/molecule/config.yml; wait for systemd in each.

    cuda: a CUDA toolkit directory of this machine, mounted read-only at the same path, so cuda_env has a real
    toolkit to configure and verify as on a GPU host (the node image has none).
    """
    extra = ["-v", "%s:%s:ro" % (cuda, cuda)] if cuda else []
    for name in names:
        docker(
            "run", "-d", "--name", name, "--hostname", name,
            "--cap-add", "SYS_ADMIN", "--cgroupns", "host",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "-e", "container=docker", "--stop-signal", "SIGRTMIN+3",
            "-v", "%s:/etc/gpufleet-sim/gpus.json:ro" % profile,
            "-v", "%s:%s:ro" % (TOOLKIT_REPO, TOOLKIT_REPO_MOUNT),
            *extra,
            image, "/sbin/init",
        )  # fmt: skip
    if cuda:
        # As NVIDIA's installers leave it: /usr/local/cuda points at the toolkit (cuda_env_version: default).
        for name in names:
            docker("exec", name, "ln", "-sfn", cuda, "/usr/local/cuda")
    deadline = time.monotonic() + 180
    waiting = list(names)
    while waiting:
        state = {}
        for name in waiting:
            proc = docker("exec", name, "systemctl", "is-system-running", check=False)
            state[name] = proc.stdout.strip() or proc.stderr.strip()
        waiting = [name for name in waiting if state[name] not in ("running", "degraded")]
        if not waiting:
            break
        if time.monotonic() > deadline:
            late = ", ".join("%s (%s)" % (name, state[name]) for name in waiting)
            sys.exit("fleet bench: systemd did not come up in %s" % late)
        time.sleep(1)


def write_inventory(names, path):
    hosts = {name: {} for name in names}
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "community.docker.docker",
                "ansible_python_interpreter": "/usr/bin/python3",
                "container_toolkit_repo_url": "file://" + TOOLKIT_REPO_MOUNT,
            },
            "children": {"gpu_nodes": {"hosts": hosts}},
        }
    }
    with open(path, "w") as handle:
        json.dump(inventory, handle, indent=2)  # JSON is YAML: the yaml inventory plugin reads it


def changed_tasks(report):
    """(host, task name) for every task result that reported changed, in play order."""
    found = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if result.get("changed"):
                    found.append((host, task["task"]["name"]))
    return found


def failed_results(report):
    """(host, task name, message) for every failed or unreachable task result that was not ignored."""
    found = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if (result.get("failed") and not result.get("ignore_errors")) or result.get("unreachable"):
                    message = str(result.get("msg") or result.get("stderr") or result.get("stdout") or "")
                    found.append((host, task["task"]["name"], message.strip()[:300]))
    return found


def run_playbook(inventory, forks, report_dir, log_prefix):
    """Run site.yml once; return (seconds, totals, report, rc). Totals sum each PLAY RECAP column over the hosts."""
    env = dict(os.environ)
    env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    # The fleet report (role fleet_report) goes beside the logs, not over the checkout's reports/.
    argv = ["ansible-playbook", "-i", inventory, "-f", str(forks), "-e", "fleet_report_dir=" + report_dir, PLAYBOOK]
    started = time.perf_counter()
    cpu_before = controller_cpu()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    cpu = controller_cpu() - cpu_before
    seconds = time.perf_counter() - started
    with open(log_prefix + ".json", "w") as handle:
        handle.write(proc.stdout)
    with open(log_prefix + ".stderr", "w") as handle:
        handle.write(proc.stderr)
    if proc.returncode == 99:  # ansible-playbook's "User interrupted execution" (Ctrl-C reached it first)
        raise KeyboardInterrupt
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        tail = proc.stderr[-3000:]
        sys.exit("fleet bench: ansible-playbook (rc %d) wrote no JSON report; stderr:\n%s" % (proc.returncode, tail))
    totals = {key: 0 for key in ("ok", "changed", "failures", "unreachable", "skipped")}
    for stats in report.get("stats", {}).values():
        for key in totals:
            totals[key] += stats.get(key, 0)
    totals["cpu_seconds"] = cpu
    return seconds, totals, report, proc.returncode


def controller_cpu():
    """User + system CPU seconds of every child process this bench has waited for (ansible-playbook, its forks and
    the docker clients they run): the controller's cost of a run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tasks_per_host(report):
    """{host: tasks that ran on it (ok, which counts changed too, as the PLAY RECAP does)}."""
    return {host: stats.get("ok", 0) for host, stats in report.get("stats", {}).items()}


def run_phase(count, args):
    names = node_names(count)
    forks = max(args.forks, 10)
    remove_nodes()
    log("phase %d nodes: starting containers (not timed)" % count)
    start_nodes(names, args.image, args.profile, args.cuda)
    inventory = os.path.join(WORK, "inventory-%d.yml" % count)
    write_inventory(names, inventory)
    report_dir = os.path.join(WORK, "reports-%d" % count)
    shutil.rmtree(report_dir, ignore_errors=True)
    phase = {"nodes": count, "forks": forks, "runs": {}}
    for run in ("first", "rerun"):
        log_prefix = os.path.join(WORK, "%d-nodes-%s" % (count, run))
        before = source_fingerprint()
        seconds, totals, report, rc = run_playbook(inventory, forks, report_dir, log_prefix)
        if os.path.isdir(report_dir):
            # Kept per run, so a report that changes on the re-run can be diffed.
            shutil.rmtree(log_prefix + "-reports", ignore_errors=True)
            shutil.copytree(report_dir, log_prefix + "-reports")
        phase["runs"][run] = {
            "sources": (before, source_fingerprint()),
            "tasks": sum(len(play.get("tasks", [])) for play in report.get("plays", [])),
            "tasks_per_host": tasks_per_host(report),
            "seconds": seconds,
            "totals": totals,
            "rc": rc,
            "changed_tasks": changed_tasks(report),
            "failed": failed_results(report),
        }
        log(
            "phase %d nodes: %s run %.1f s, %.1f controller CPU s, ok=%d changed=%d failed=%d unreachable=%d (rc %d)"
            % (
                count,
                run,
                seconds,
                totals["cpu_seconds"],
                totals["ok"],
                totals["changed"],
                totals["failures"],
                totals["unreachable"],
                rc,
            )
        )
    remove_nodes()
    return phase


def log(message):
    print("fleet bench: %s" % message, file=sys.stderr, flush=True)


def load():
    return os.getloadavg()[0]


def verdict(ok):
    return "met" if ok else "NOT met"


def print_report(phases):
    header = "%-6s %5s %5s %9s %8s %9s %8s %6s" % (
        "phase", "nodes", "forks", "first s", "changed", "re-run s", "changed", "failed",
    )  # fmt: skip
    print(header)
    print("-" * len(header))
    for number, phase in enumerate(phases, 1):
        first, rerun = phase["runs"]["first"], phase["runs"]["rerun"]
        failed = sum(r["totals"]["failures"] + r["totals"]["unreachable"] for r in (first, rerun))
        print(
            "%-6d %5d %5d %9.1f %8d %9.1f %8d %6d"
            % (
                number, phase["nodes"], phase["forks"],
                first["seconds"], first["totals"]["changed"],
                rerun["seconds"], rerun["totals"]["changed"], failed,
            )
        )  # fmt: skip
    print()
    smallest, largest = phases[0], phases[-1]
    if len(phases) > 1:
        for run, label in (("first", "first converge"), ("rerun", "re-run")):
            ratio = largest["runs"][run]["seconds"] / smallest["runs"][run]["seconds"]
            print(
                "ratio %d-node / %d-node (%s) = %.2f (goal <= %.1f: %s)"
                % (largest["nodes"], smallest["nodes"], label, ratio, RATIO_GOAL, verdict(ratio <= RATIO_GOAL))
            )
    fingerprints = {f for phase in phases for run in phase["runs"].values() for f in run["sources"]}
    if len(fingerprints) > 1:
        print(
            "WARNING: playbooks/, roles/, plugins/ or files/ changed while the bench ran; runs are not comparable"
            " (tasks per run: %s)"
            % ", ".join(
                "%d nodes %s %d" % (phase["nodes"], run, result["tasks"])
                for phase in phases
                for run, result in phase["runs"].items()
            )
        )
    print()
    print_per_host(phases)
    rerun_changed = sum(phase["runs"]["rerun"]["totals"]["changed"] for phase in phases)
    print("re-run changed = %d (goal 0: %s)" % (rerun_changed, verdict(rerun_changed == 0)))
    for phase in phases:
        for host, task in phase["runs"]["rerun"]["changed_tasks"]:
            print("  changed on re-run (%d nodes): %s: %s" % (phase["nodes"], host, task))
    broken = False
    for phase in phases:
        for run, result in phase["runs"].items():
            if result["totals"]["failures"] or result["totals"]["unreachable"] or result["rc"]:
                broken = True
                print("FAILED: %d nodes, %s run: rc %d" % (phase["nodes"], run, result["rc"]))
                for host, task, message in result["failed"]:
                    print("  %s: %s: %s" % (host, task, message))
    if broken:
        print("logs: %s" % os.path.relpath(WORK, REPO))
    return broken


def print_per_host(phases):
    """What a fleet pays per host: tasks (PLAY RECAP ok, changed included) and controller CPU seconds."""
    header = "%-6s %5s %-6s %12s %12s %14s" % ("phase", "nodes", "run", "tasks/host", "(max)", "CPU s/host")
    print(header)
    print("-" * len(header))
    for number, phase in enumerate(phases, 1):
        for run in ("first", "rerun"):
            result = phase["runs"][run]
            counts = list(result["tasks_per_host"].values()) or [0]
            print(
                "%-6d %5d %-6s %12.1f %12d %14.2f"
                % (
                    number, phase["nodes"], run, sum(counts) / len(counts), max(counts),
                    result["totals"]["cpu_seconds"] / phase["nodes"],
                )
            )  # fmt: skip
    # One host of each run also carries the fleet-wide run_once steps (the fleet report on the controller), which a
    # fleet pays once, not per host: the typical GPU host is the median.
    rerun = sorted(phases[-1]["runs"]["rerun"]["tasks_per_host"].values())
    typical = rerun[(len(rerun) - 1) // 2] if rerun else 0
    print(
        "re-run tasks per GPU host = %d (median of %d hosts; max %d with the run_once steps) (goal <= %d: %s)"
        % (typical, len(rerun), rerun[-1] if rerun else 0, RERUN_TASKS_GOAL, verdict(typical <= RERUN_TASKS_GOAL))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="node image (last line of molecule/image/build.sh)")
    parser.add_argument("--sizes", default="1,10", help="fleet sizes, one phase each (default 1,10)")
    parser.add_argument("--forks", type=int, default=10, help="ansible-playbook -f (at least 10)")
    parser.add_argument("--profile", default="h100.json", help="GPU profile under tests/simulators/profiles")
    parser.add_argument(
        "--cuda",
        default=default_cuda(),
        help="a CUDA toolkit mounted into every node (default: the newest /usr/local/cuda-*; '' for none)",
    )
    args = parser.parse_args()
    args.profile = os.path.join(PROFILES, args.profile)
    if not os.path.isfile(args.profile):
        parser.error("no such profile: %s" % args.profile)
    sizes = [int(size) for size in args.sizes.split(",")]
    os.makedirs(WORK, exist_ok=True)
    profile = os.path.basename(args.profile)
    print(
        "fleet bench: playbooks/site.yml on SIMULATED nodes (GPU profile %s, CUDA toolkit %s); image %s"
        % (profile, args.cuda or "none", args.image)
    )
    load_at_start = load()
    phases = []
    try:
        for count in sizes:
            phases.append(run_phase(count, args))
    except KeyboardInterrupt:
        log("interrupted; bench nodes removed")
        return 130
    finally:
        remove_nodes()
    broken = print_report(phases)
    # Other work on the controller (molecule, builds) slows the 10-node phase most: say how busy the host was.
    print("controller: %d CPUs, load average at start %.1f, at end %.1f" % (os.cpu_count(), load_at_start, load()))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
