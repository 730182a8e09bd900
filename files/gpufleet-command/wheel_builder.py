# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the gpufleet-command wheel with the standard library: a PEP 517 backend and a command line.

    python3 wheel_builder.py --wheel-dir DIR    build the wheel into DIR; prints JSON (wheel, version, changed, ...)
    python3 wheel_builder.py --version          print the version the wheel would have
    pip wheel --no-deps files/gpufleet-command   the same wheel through PEP 517 (pyproject.toml names this backend)

The wheel holds the packages named in pyproject.toml, the collection's module_utils they import (followed through
their own imports, so nobody keeps that list by hand), the metadata (Requires-Dist from requirements.txt) and the
console scripts. It is reproducible: fixed timestamps and modes, sorted entries, and a version whose local label is
a hash of the content, so an unchanged tree gives the same file and a changed one a new version that pip installs.
"""

import argparse
import ast
import base64
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_UTILS_PACKAGE = "ansible_collections.gpufleet.nvidia.plugins.module_utils"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o100644
GENERATOR = "gpufleet wheel_builder 1"
VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([0-9]+(?:\.[0-9]+)*)["']\s*$""", re.MULTILINE)


class BuildError(Exception):
    """The project cannot be built as it is; the message says what to fix."""


def _load_toml(path):
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # a 3.10 controller (ansible-core 2.16/2.17): the tomli that pip vendors
        try:
            import tomli as tomllib
        except ImportError:
            try:
                from pip._vendor import tomli as tomllib
            except ImportError:
                raise BuildError("reading %s needs Python 3.11+ (tomllib), tomli or pip" % path) from None
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def read_requirements(path):
    """Requirement lines of a pip requirements file, comments dropped and whitespace normalised around ';'."""
    requirements = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("-"):
                raise BuildError("%s: pip options (%s) cannot become wheel metadata" % (path, line))
            spec, _semicolon, marker = line.partition(";")
            requirements.append(spec.strip() + ("; " + marker.strip() if marker.strip() else ""))
    return requirements


class Project:
    """The distribution as pyproject.toml describes it."""

    def __init__(self, directory=HERE):
        self.directory = os.path.abspath(directory)
        pyproject_path = os.path.join(self.directory, "pyproject.toml")
        pyproject = _load_toml(pyproject_path)
        project = pyproject["project"]
        tool = pyproject.get("tool", {}).get("gpufleet-wheel", {})
        self.name = project["name"]
        self.summary = project.get("description", "")
        self.requires_python = project.get("requires-python")
        self.license = (project.get("license") or {}).get("text")
        self.authors = [a["name"] for a in project.get("authors", []) if "name" in a]
        self.scripts = dict(sorted(project.get("scripts", {}).items()))
        self.packages = list(tool.get("packages", []))
        if not self.packages:
            raise BuildError("%s: [tool.gpufleet-wheel] packages is empty" % pyproject_path)
        version_file = os.path.join(self.directory, tool.get("version-file", self.packages[0] + "/__init__.py"))
        with open(version_file, encoding="utf-8") as handle:
            match = VERSION_RE.search(handle.read())
        if not match:
            raise BuildError('%s has no __version__ = "X.Y.Z" line' % version_file)
        self.base_version = match.group(1)
        self.requirements_file = os.path.join(self.directory, tool.get("requirements", "requirements.txt"))
        self.requirements = read_requirements(self.requirements_file)
        candidates = [os.path.normpath(os.path.join(self.directory, d)) for d in tool.get("module-utils", [])]
        found = [d for d in candidates if os.path.isdir(d)]
        self.module_utils_dir = found[0] if found else None
        self.module_utils_candidates = candidates

    @property
    def dist_name(self):
        """The name as wheel file names and .dist-info directories spell it."""
        return re.sub(r"[-_.]+", "_", self.name).lower()


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def package_files(project):
    """(archive name, absolute path) of every .py file of the packages, sorted; caches and other files skipped."""
    files = []
    for package in project.packages:
        top = os.path.join(project.directory, package)
        if not os.path.isfile(os.path.join(top, "__init__.py")):
            raise BuildError("package %s has no __init__.py under %s" % (package, project.directory))
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            for filename in sorted(filenames):
                if filename.endswith(".py"):
                    path = os.path.join(dirpath, filename)
                    files.append((os.path.relpath(path, project.directory).replace(os.sep, "/"), path))
    return sorted(files)


def _guarded_nodes(tree):
    """Nodes inside a try body that catches ImportError (optional imports), which may name absent packages."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            catches = []
            for handler in node.handlers:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                catches += [getattr(n, "id", getattr(n, "attr", None)) for n in names if n is not None]
                if handler.type is None:
                    catches.append("ImportError")
            if {"ImportError", "ModuleNotFoundError", "Exception"} & set(catches):
                for child in node.body:
                    guarded.update(id(n) for n in ast.walk(child))
    return guarded


def imported_module_utils(source, filename, in_module_utils):
    """Names of the collection's module_utils that source imports (absolute, or relative inside module_utils).

    Raises BuildError for an unguarded import of ansible or another collection module, which the venv cannot have.
    """
    tree = ast.parse(source, filename)
    guarded = _guarded_nodes(tree)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if in_module_utils and node.level == 1:
                    names.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
                continue
            modules = [(node.module or "", [a.name for a in node.names])]
        elif isinstance(node, ast.Import):
            modules = [(a.name, []) for a in node.names]
        else:
            continue
        for module, imported in modules:
            if module == MODULE_UTILS_PACKAGE:
                names.update(imported)
            elif module.startswith(MODULE_UTILS_PACKAGE + "."):
                names.add(module[len(MODULE_UTILS_PACKAGE) + 1 :].split(".")[0])
            elif module.split(".")[0] in ("ansible", "ansible_collections") and id(node) not in guarded:
                raise BuildError(
                    "%s:%d imports %s, which the command service's venv does not have (only the collection's "
                    "module_utils travel in the wheel)" % (filename, node.lineno, module)
                )
    return names


def module_utils_closure(project, sources):
    """{name: absolute path} of the module_utils that sources ({archive name: bytes}) need, directly or not."""
    wanted = set()
    for arcname, data in sources.items():
        wanted |= imported_module_utils(data, arcname, in_module_utils=False)
    found = {}
    while wanted - set(found):
        name = sorted(wanted - set(found))[0]
        if project.module_utils_dir is None:
            raise BuildError(
                "the packages import module_utils %s but none of %s exists"
                % (name, ", ".join(project.module_utils_candidates))
            )
        path = os.path.join(project.module_utils_dir, name + ".py")
        if not os.path.isfile(path):
            raise BuildError("module_utils %s is imported but %s does not exist" % (name, path))
        found[name] = path
        wanted |= imported_module_utils(_read(path), path, in_module_utils=True)
    return dict(sorted(found.items()))


def content_files(project):
    """[(archive name, bytes)] of everything the wheel installs, and the module_utils names among them."""
    files = {arcname: _read(path) for arcname, path in package_files(project)}
    module_utils = module_utils_closure(project, files)
    prefix = MODULE_UTILS_PACKAGE.replace(".", "/") + "/"
    for name, path in module_utils.items():
        files[prefix + name + ".py"] = _read(path)
    return sorted(files.items()), list(module_utils)


def metadata_text(project, version):
    lines = ["Metadata-Version: 2.1", "Name: %s" % project.name, "Version: %s" % version]
    if project.summary:
        lines.append("Summary: %s" % project.summary)
    if project.authors:
        lines.append("Author: %s" % ", ".join(project.authors))
    if project.license:
        lines.append("License: %s" % project.license)
    if project.requires_python:
        lines.append("Requires-Python: %s" % project.requires_python)
    lines += ["Requires-Dist: %s" % r for r in project.requirements]
    return "\n".join(lines) + "\n"


def entry_points_text(project):
    if not project.scripts:
        return ""
    return "[console_scripts]\n" + "".join("%s = %s\n" % item for item in project.scripts.items())


def wheel_version(project, files):
    """The base version plus +g<12 hex>: a hash over every installed file and the metadata (except the version)."""
    digest = hashlib.sha256()
    for arcname, data in files:
        digest.update(arcname.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    digest.update(metadata_text(project, "").encode("utf-8") + entry_points_text(project).encode("utf-8"))
    return "%s+g%s" % (project.base_version, digest.hexdigest()[:12])


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _zip_entry(archive, arcname, data):
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
    info.external_attr = FILE_MODE << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, whatever the building machine is
    archive.writestr(info, data, compresslevel=9)


class Wheel:
    """One built wheel: its file name, bytes, version and the module_utils it carries."""

    def __init__(self, project):
        files, self.module_utils = content_files(project)
        self.version = wheel_version(project, files)
        self.filename = "%s-%s-py3-none-any.whl" % (project.dist_name, self.version)
        dist_info = "%s-%s.dist-info/" % (project.dist_name, self.version)
        files.append((dist_info + "METADATA", metadata_text(project, self.version).encode("utf-8")))
        files.append((dist_info + "WHEEL", self._wheel_text().encode("utf-8")))
        if project.scripts:
            files.append((dist_info + "entry_points.txt", entry_points_text(project).encode("utf-8")))
        record = "".join("%s,%s,%d\n" % (name, _record_hash(data), len(data)) for name, data in files)
        files.append((dist_info + "RECORD", (record + dist_info + "RECORD,,\n").encode("utf-8")))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for arcname, data in files:
                _zip_entry(archive, arcname, data)
        self.data = buffer.getvalue()
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    @staticmethod
    def _wheel_text():
        return "Wheel-Version: 1.0\nGenerator: %s\nRoot-Is-Purelib: true\nTag: py3-none-any\n" % GENERATOR

    def write(self, directory):
        """Write the wheel into directory unless the same bytes are there; True when a file was written."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, self.filename)
        try:
            if _read(path) == self.data:
                return False
        except OSError:
            pass
        temporary = "%s.%d.tmp" % (path, os.getpid())
        with open(temporary, "wb") as handle:
            handle.write(self.data)
        os.replace(temporary, path)
        return True


# PEP 517 hooks -------------------------------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    wheel = Wheel(Project(HERE))
    wheel.write(wheel_directory)
    return wheel.filename


def build_sdist(sdist_directory, config_settings=None):
    """The project files plus the module_utils the wheel needs (under module_utils/), so it builds on its own."""
    project = Project(HERE)
    wheel = Wheel(project)
    base = "%s-%s" % (project.dist_name, wheel.version)
    members = [("pyproject.toml", _read(os.path.join(HERE, "pyproject.toml")))]
    members.append(("wheel_builder.py", _read(os.path.join(HERE, "wheel_builder.py"))))
    members.append((os.path.relpath(project.requirements_file, HERE), _read(project.requirements_file)))
    members += [(arcname, _read(path)) for arcname, path in package_files(project)]
    members += [
        ("module_utils/%s.py" % n, _read(os.path.join(project.module_utils_dir, n + ".py"))) for n in wheel.module_utils
    ]
    members.append(("PKG-INFO", metadata_text(project, wheel.version).encode("utf-8")))
    filename = base + ".tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for arcname, data in sorted(members):
            info = tarfile.TarInfo("%s/%s" % (base, arcname))
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    os.makedirs(sdist_directory, exist_ok=True)
    with open(os.path.join(sdist_directory, filename), "wb") as handle:
        handle.write(buffer.getvalue())
    return filename


# command line --------------------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(prog="wheel_builder.py", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--project", default=HERE, help="directory holding pyproject.toml (default: this one)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--wheel-dir", help="write the wheel here (unless the same file is there already)")
    action.add_argument("--version", action="store_true", help="print the version the wheel would have")
    args = parser.parse_args(argv)
    try:
        project = Project(args.project)
        wheel = Wheel(project)
    except (BuildError, OSError, KeyError, SyntaxError, ValueError) as exc:
        sys.stderr.write("wheel_builder.py: cannot build %s: %s: %s\n" % (args.project, type(exc).__name__, exc))
        return 1
    if args.version:
        sys.stdout.write(wheel.version + "\n")
        return 0
    changed = wheel.write(args.wheel_dir)
    result = {
        "name": project.name,
        "version": wheel.version,
        "filename": wheel.filename,
        "wheel": os.path.join(os.path.abspath(args.wheel_dir), wheel.filename),
        "sha256": wheel.sha256,
        "changed": changed,
        "module_utils": wheel.module_utils,
        "scripts": sorted(project.scripts),
    }
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
