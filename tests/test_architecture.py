"""The layers import downwards only (README, "Development"); every module says what it is for.

    mha_core/            torch only
    lesson data          scenes/lesson/ (config, fonts, spoken forms, the Lesson builder): numbers, no Manim, no click
    voice                scenes/voice/ (the narrator's engine, speech and its cache): no Manim, no click
    drawing              scenes/base.py, style.py, layout.py, narration.py, parts/, chapters/
    production           scenes/render/: no click
    command line         cli.py: the only module that imports click; cli_output.py (what it prints): no click

Read from the source with ``ast`` (nothing is imported), so a late import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMAND_LINE = ("cli", "cli_output")  # the top-level modules (pyproject.toml's py-modules)
MODULES = sorted([*ROOT.glob("mha_core/**/*.py"), *ROOT.glob("scenes/**/*.py"),
                  *(ROOT / f"{name}.py" for name in COMMAND_LINE)])

LESSON_DATA = ("scenes.lesson",)
VOICE = ("scenes.voice",)
DRAWING = ("scenes.base", "scenes.style", "scenes.layout", "scenes.narration", "scenes.parts", "scenes.chapters")
PRODUCTION = ("scenes.render",)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, at any depth of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # "from scenes import parts"
    return found


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str) -> str:
    if within(name, ("mha_core",)):
        return "core"
    if within(name, LESSON_DATA):
        return "lesson data"
    if within(name, VOICE):
        return "voice"
    if within(name, DRAWING):
        return "drawing"
    if within(name, PRODUCTION):
        return "production"
    if name == "cli":
        return "command line"
    if name == "cli_output":
        return "command-line output"
    return "package"  # scenes/__init__.py


# What each layer may not import (its own layer and those below are allowed).
FORBIDDEN = {
    "core": ("scenes", *COMMAND_LINE, "manim", "click"),
    "lesson data": (*COMMAND_LINE, "manim", "click", "piper", *VOICE, *DRAWING, *PRODUCTION),
    "voice": (*COMMAND_LINE, "manim", "click", *DRAWING, *PRODUCTION),
    "drawing": (*COMMAND_LINE, "click", "piper", *PRODUCTION),
    "production": (*COMMAND_LINE, "click", "piper"),  # Piper (GPL-3.0, optional) is used through scenes/voice only
    "command line": (),
    "command-line output": ("cli", "click"),  # what cli.py prints: rich and the layers below, never click
    "package": (*COMMAND_LINE, "click", "manim"),
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_downwards(path):
    name = module_name(path)
    bad = sorted(i for i in imports(path) if within(i, FORBIDDEN[layer_of(name)]))
    assert not bad, f"{name} ({layer_of(name)}) imports {bad}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("scenes/chapters/*.py")), ids=lambda p: p.name)
def test_a_chapter_imports_no_other_chapter(path):
    if path.name == "__init__.py":
        return  # the chapter list
    name = module_name(path)
    others = sorted(i for i in imports(path) if within(i, ("scenes.chapters",)) and not within(i, (name,)))
    assert not others, f"{name} imports {others}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_is_for(path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and doc.strip().splitlines()[0].strip(), f"{path.relative_to(ROOT)} has no docstring"


def test_the_rules_can_fail():
    """The checker sees what it must see: a late import, a relative one, ``from package import module``."""
    assert "click" in imports(ROOT / "cli.py")
    assert "scenes.lesson.config.LessonConfig" in imports(ROOT / "scenes/lesson/build.py")
    assert "scenes.parts" in imports(ROOT / "scenes/chapters/intro.py")
    assert layer_of("scenes.chapters.intro") == "drawing" and within("scenes.render.pipeline", FORBIDDEN["drawing"])
    assert "cli_output" in imports(ROOT / "cli.py") and within("click", FORBIDDEN[layer_of("cli_output")])


def test_the_command_line_modules_are_installed():
    """Each top-level module is in pyproject.toml's py-modules, so `pip install -e .` makes it importable."""
    import re

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    listed = re.search(r"^py-modules = \[(.*)\]$", text, flags=re.M).group(1)
    assert sorted(re.findall(r'"([\w.]+)"', listed)) == sorted(COMMAND_LINE)
