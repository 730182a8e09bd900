"""Generate the module, filter and role tables of README.md and roles/README.md from the collection's own docs.

The tables come from each module's and filter's DOCUMENTATION (its name, short_description and options, with the
options of the collection's doc fragments it extends) and from each role's meta/argument_specs.yml (the main entry
point's short_description and options); which playbook runs a role, and on which hosts, comes from playbooks/*.yml.
Each table replaces the text between its markers:

    <!-- BEGIN generated: <name> (hack/gen_docs.py) -->
    <!-- END generated: <name> -->

    python hack/gen_docs.py           # rewrite the tables (make docs)
    python hack/gen_docs.py --check   # exit 1 and print a diff when a table differs from what would be generated

Reads the files only (ast and PyYAML); nothing is imported from the collection, so it runs without ansible-core.
"""

import argparse
import ast
import difflib
import glob
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION = "gpufleet.nvidia"
# The playbook whose order the role table follows; the other playbooks add their "run by" entries after it.
MAIN_PLAYBOOK = "site.yml"
BEGIN = "<!-- BEGIN generated: {name} (hack/gen_docs.py) -->"
END = "<!-- END generated: {name} -->"
# Ansible's documentation markup (C(x), V(x), O(x), M(x), ...) as Markdown code.
_MARKUP_RE = re.compile(r"\b(?:C|V|O|E|M|RV|I|B|U)\(([^()]*)\)")


class DocsError(Exception):
    """A module, filter, role or playbook whose documentation cannot be read; the message names the file."""


# ---------------------------------------------------------------------------------------------------------------------
# Reading the collection


def _load_yaml(path):
    """A YAML file's content, or DocsError naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise DocsError("%s: %s" % (os.path.relpath(path), exc)) from exc


def _documentation(path):
    """The parsed DOCUMENTATION string of a plugin file (the module-level assignment), or DocsError."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(target, ast.Name) and target.id == "DOCUMENTATION" for target in targets):
            try:
                return yaml.safe_load(ast.literal_eval(node.value)) or {}
            except (ValueError, yaml.YAMLError) as exc:
                raise DocsError("%s: DOCUMENTATION is not a YAML string: %s" % (path, exc)) from exc
    raise DocsError("%s: no DOCUMENTATION" % path)


def _fragment_options(name, repo):
    """Options of one of the collection's doc fragments (gpufleet.nvidia.<name>); {} for anyone else's."""
    prefix = COLLECTION + "."
    if not name.startswith(prefix):
        return {}
    fragment, _dot, variant = name[len(prefix) :].partition(".")
    path = os.path.join(repo, "plugins", "doc_fragments", fragment + ".py")
    if not os.path.isfile(path):
        raise DocsError("%s: extends_documentation_fragment %s, which does not exist" % (path, name))
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    wanted = (variant or "DOCUMENTATION").upper()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == wanted for t in node.targets):
            return (yaml.safe_load(ast.literal_eval(node.value)) or {}).get("options") or {}
    raise DocsError("%s: no %s in the doc fragment" % (path, wanted))


def plugin_docs(kind, repo=REPO):
    """[{name, what, options}] of the modules (kind "modules") or filters ("filter"), sorted by name."""
    found = []
    for path in sorted(glob.glob(os.path.join(repo, "plugins", kind, "*.py"))):
        if os.path.basename(path).startswith("_"):
            continue
        doc = _documentation(path)
        name = doc.get("module") or doc.get("name")
        if not name or not doc.get("short_description"):
            raise DocsError("%s: DOCUMENTATION needs a name and a short_description" % path)
        options = list(doc.get("options") or {})
        fragments = doc.get("extends_documentation_fragment") or []
        for fragment in [fragments] if isinstance(fragments, str) else fragments:
            options += [option for option in _fragment_options(fragment, repo) if option not in options]
        found.append({"name": name, "what": doc["short_description"], "options": [o for o in options if o[0] != "_"]})
    return found


def role_docs(repo=REPO):
    """{role: {what, options}} from every role's meta/argument_specs.yml (its main entry point)."""
    roles = {}
    for role_dir in sorted(glob.glob(os.path.join(repo, "roles", "*", ""))):
        role = os.path.basename(os.path.dirname(role_dir))
        path = os.path.join(role_dir, "meta", "argument_specs.yml")
        if not os.path.isfile(path):
            raise DocsError("roles/%s has no meta/argument_specs.yml" % role)
        main = ((_load_yaml(path) or {}).get("argument_specs") or {}).get("main")
        if not main or not main.get("short_description"):
            raise DocsError("%s: argument_specs.main needs a short_description" % path)
        roles[role] = {"what": main["short_description"], "options": list(main.get("options") or {})}
    return roles


def _role_name(name):
    """The short name of a role reference (gpufleet.nvidia.cuda_env -> cuda_env), None for another collection's."""
    if name.startswith(COLLECTION + "."):
        return name[len(COLLECTION) + 1 :]
    return None if "." in name else name


def _task_roles(tasks, when):
    """(role, when) of include_role/import_role tasks, blocks included."""
    for task in tasks or []:
        task_when = [*when, *_as_list(task.get("when"))]
        for key in ("block", "rescue", "always"):
            yield from _task_roles(task.get(key), task_when)
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
            if isinstance(task.get(key), dict) and task[key].get("name"):
                yield task[key]["name"], task_when


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def playbook_roles(playbook, repo=REPO, _seen=()):
    """[(role, hosts, when, through)] in the order the playbook runs them; `through` names an imported playbook."""
    path = os.path.join(repo, "playbooks", playbook)
    if playbook in _seen:
        raise DocsError("playbooks/%s imports itself" % playbook)
    plays = _load_yaml(path) or []
    runs = []
    for play in plays:
        imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if imported:
            for role, hosts, when, through in playbook_roles(imported, repo, (*_seen, playbook)):
                runs.append((role, hosts, when, through or imported))
            continue
        hosts, play_when = play.get("hosts"), _as_list(play.get("when"))
        # A play runs pre_tasks, then roles, then tasks and post_tasks.
        found = list(_task_roles(play.get("pre_tasks"), play_when))
        for entry in play.get("roles") or []:
            entry = entry if isinstance(entry, dict) else {"role": entry}
            found.append((entry.get("role") or entry.get("name"), [*play_when, *_as_list(entry.get("when"))]))
        for key in ("tasks", "post_tasks"):
            found += list(_task_roles(play.get(key), play_when))
        for name, when in found:
            role = _role_name(name or "")
            if role:
                runs.append((role, hosts, when, None))
    return runs


def role_runs(repo=REPO):
    """({role: ["`site.yml` (...)", ...]}, roles in the order of MAIN_PLAYBOOK then the others)."""
    playbooks = sorted(os.path.basename(p) for p in glob.glob(os.path.join(repo, "playbooks", "*.yml")))
    playbooks.sort(key=lambda name: name != MAIN_PLAYBOOK)
    runs, order = {}, []
    for playbook in playbooks:
        for role, hosts, when, through in playbook_roles(playbook, repo):
            if role not in order:
                order.append(role)
            details = []
            if hosts not in (None, "all"):
                details.append("hosts `%s`" % hosts)
            details += ["when `%s`" % condition for condition in when]
            if through:
                details.append("through `%s`" % through)
            text = "`%s`" % playbook + (" (%s)" % ", ".join(details) if details else "")
            if text not in runs.setdefault(role, []):
                runs[role].append(text)
    return runs, order


# ---------------------------------------------------------------------------------------------------------------------
# Rendering


def _text(value):
    """A description as one line, with Ansible's markup as Markdown code."""
    return _MARKUP_RE.sub(r"`\1`", " ".join(str(value).split()))


def _names(options):
    return ", ".join("`%s`" % option for option in options) or "-"


def _row(*cells):
    """A Markdown table row; a pipe in a cell (also in code, as in `x | bool`) is escaped."""
    return "| %s |" % " | ".join(cell.replace("|", "\\|") for cell in cells)


def readme_table(repo=REPO):
    """README.md's table: every module, role and filter with its options or variables."""
    roles = role_docs(repo)
    _runs, order = role_runs(repo)
    lines = ["| name | what | options / variables |", "|---|---|---|"]
    for module in plugin_docs("modules", repo):
        lines.append(_row("module `%s`" % module["name"], _text(module["what"]), _names(module["options"])))
    for role in order + sorted(set(roles) - set(order)):
        if role in roles:
            lines.append(_row("role `%s`" % role, _text(roles[role]["what"]), _names(roles[role]["options"])))
    for plugin in plugin_docs("filter", repo):
        lines.append(_row("filter `%s`" % plugin["name"], _text(plugin["what"]), _names(plugin["options"])))
    return "\n".join(lines)


def roles_table(repo=REPO):
    """roles/README.md's table: every role in the order site.yml runs it, with the playbooks that run it."""
    roles = role_docs(repo)
    runs, order = role_runs(repo)
    lines = ["| role | what it does | run by |", "|---|---|---|"]
    for role in order + sorted(set(roles) - set(order)):
        if role not in roles:
            raise DocsError("a playbook runs role %s, which has no roles/%s" % (role, role))
        lines.append(_row("`%s`" % role, _text(roles[role]["what"]), ", ".join(runs.get(role, [])) or "-"))
    return "\n".join(lines)


# README file -> {region name: function returning its text}
TARGETS = {
    "README.md": {"roles-and-modules": readme_table},
    os.path.join("roles", "README.md"): {"roles": roles_table},
}


def render(text, regions, repo=REPO, filename="README.md"):
    """text with each named region replaced by its generated table; DocsError when a marker is missing."""
    for name, make in regions.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        start = text.find(begin)
        stop = text.find(end, start + 1)
        if start < 0 or stop < 0:
            raise DocsError("%s: no region %r (%s ... %s)" % (filename, name, begin, end))
        text = text[: start + len(begin)] + "\n" + make(repo) + "\n" + text[stop:]
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 with a diff when a table drifted")
    parser.add_argument("--repo", default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    drifted = []
    try:
        for filename, regions in TARGETS.items():
            path = os.path.join(args.repo, filename)
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
            wanted = render(current, regions, args.repo, filename)
            if wanted == current:
                continue
            drifted.append(filename)
            if args.check:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(True), wanted.splitlines(True), "a/" + filename, "b/" + filename
                    )
                )
            else:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(wanted)
    except DocsError as exc:
        print("gen_docs: %s" % exc, file=sys.stderr)
        return 2
    if drifted and args.check:
        print(
            "\ngen_docs: %s differ from the modules' and roles' documentation; run `make docs` (hack/gen_docs.py)"
            % " and ".join(drifted),
            file=sys.stderr,
        )
        return 1
    for filename in drifted:
        print("gen_docs: rewrote the generated tables of %s" % filename)
    return 0


if __name__ == "__main__":
    sys.exit(main())
