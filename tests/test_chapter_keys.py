"""A chapter's cache key covers exactly the code that reaches its frames and sound.

Editing one chapter re-renders that chapter only; editing the export, page, SCORM, folder or
command-line code re-renders none (the folder is written again from the cache). Checked on a
copy of the sources, edited, against the real tree's hashes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scenes.lesson.config import CHAPTER_IDS
from scenes.render import keys

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A copy of mha_core/ and scenes/ that ``keys`` hashes instead of the real ones; returns an editor."""
    for package in ("mha_core", "scenes"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(keys, "_PROJECT", tmp_path)
    monkeypatch.setattr(keys, "_SCENES", tmp_path / "scenes")
    monkeypatch.setattr(keys, "_CORE", tmp_path / "mha_core")
    monkeypatch.setattr(keys, "_BOOKKEEPING", {tmp_path / "scenes/render/cache.py", tmp_path / "scenes/render/guard.py"})

    def edit(name: str) -> dict[str, str]:
        """Append a comment to one file; returns every chapter's code hash after the edit."""
        path = tmp_path / name
        path.write_bytes(path.read_bytes() + b"\n# an edit\n")
        return hashes()

    return edit


def hashes() -> dict[str, str]:
    return {cid: keys.chapter_code_hash(cid) for cid in CHAPTER_IDS}


def changed(before: dict, after: dict) -> set[str]:
    return {cid for cid in before if before[cid] != after[cid]}


@pytest.mark.parametrize("name", ["scenes/render/export.py", "scenes/render/explorer.py", "scenes/render/scorm.py",
                                  "scenes/render/folder.py", "scenes/render/guard.py", "scenes/render/pipeline.py",
                                  "scenes/render/keys.py", "scenes/render/jobs.py", "scenes/render/cache.py",
                                  "scenes/render/templates/index.html", "scenes/render/templates/_explorer.css"])
def test_production_code_re_renders_no_chapter(sources, name):
    before = hashes()
    assert changed(before, sources(name)) == set()


def test_a_chapter_edit_re_renders_that_chapter_only(sources):
    before = hashes()
    assert changed(before, sources("scenes/chapters/one_head.py")) == {"one-head"}


@pytest.mark.parametrize("name", ["scenes/parts/matrices.py", "scenes/base.py", "scenes/style.py",
                                  "scenes/render/worker.py", "scenes/render/media.py", "scenes/voice/speech.py",
                                  "mha_core/attention.py"])
def test_what_every_chapter_draws_with_re_renders_every_chapter(sources, name):
    before = hashes()
    assert changed(before, sources(name)) == set(CHAPTER_IDS)


def test_the_lesson_folder_still_follows_every_source():
    """The folder key (and the manifest's code hash) change with any code: production code re-exports."""
    assert keys.code_hash() != keys.chapter_code_hash("intro")


def test_each_chapter_id_names_its_scene_module():
    from scenes.chapters import CHAPTERS

    for cid, scene in CHAPTERS.items():
        assert scene.__module__ == f"scenes.chapters.{keys.module_name(cid)}"
