"""mha_core.store: a measurement is computed once per key and read back after; damage or a read-only
folder costs only time."""

from __future__ import annotations

import os

import pytest
import torch

from mha_core import store


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_computed_once_then_read_back(folder):
    calls = []

    def compute():
        calls.append(1)
        return {"shift": torch.arange(6, dtype=torch.float64).reshape(2, 3)}

    first = store.remembered("m", store.key_of("a", 1), compute)
    again = store.remembered("m", store.key_of("a", 1), compute)
    assert len(calls) == 1 and torch.equal(first["shift"], again["shift"]) and again["shift"].dtype == torch.float64
    store.remembered("m", store.key_of("a", 2), compute)  # another key: computed again
    assert len(calls) == 2
    assert sorted(p.name.split("-")[0] for p in folder.iterdir()) == ["m", "m"]


def test_a_damaged_file_is_computed_again(folder):
    key = store.key_of("b")
    store.remembered("m", key, lambda: {"x": torch.ones(3)})
    (path,) = folder.iterdir()
    path.write_bytes(b"not a tensor file")
    assert torch.equal(store.remembered("m", key, lambda: {"x": torch.zeros(3)})["x"], torch.zeros(3))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_still_gives_the_value(folder):
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert torch.equal(store.remembered("m", "k", lambda: {"x": torch.ones(2)})["x"], torch.ones(2))
    finally:
        folder.chmod(0o700)


def test_an_unwritable_place_still_gives_the_value(monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV, "/proc/mha-explainer-cache")  # nobody, root included, can create it
    assert torch.equal(store.remembered("m", "k", lambda: {"x": torch.ones(2)})["x"], torch.ones(2))


def test_the_key_changes_with_every_part():
    assert store.key_of("a", (1, 2)) == store.key_of("a", (1, 2))
    assert len({store.key_of("a", 1), store.key_of("a", 2), store.key_of("b", 1)}) == 3


def test_the_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(store.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert store.cache_dir() == tmp_path / "mha-explainer"


def test_a_measurement_another_process_is_computing_is_waited_for_and_read(folder):
    """While a second process computes a measurement (it holds the folder's lock), this one waits, then reads
    what it wrote instead of computing it again."""
    import subprocess
    import sys

    key = store.key_of("shared")
    child = subprocess.Popen([sys.executable, "-c", (
        "import time, torch\n"
        "from mha_core import store\n"
        f"store.remembered('m', {key!r}, lambda: (print('computing', flush=True), time.sleep(2), "
        "{'x': torch.full((3,), 7.0)})[-1])\n")], stdout=subprocess.PIPE, text=True,
        env={**os.environ, store.CACHE_ENV: str(folder)})
    try:
        assert child.stdout.readline().strip() == "computing"  # the child holds the lock now
        calls = []
        got = store.remembered("m", key, lambda: calls.append(1) or {"x": torch.zeros(3)})
        assert not calls and torch.equal(got["x"], torch.full((3,), 7.0))  # waited for the child's, and read it
    finally:
        assert child.wait(timeout=60) == 0
    assert [p.name for p in folder.iterdir()] == [f"m-{key}.safetensors"]  # the lock added no file


def test_a_lock_that_is_never_released_is_waited_for_only_so_long(folder, monkeypatch):
    import fcntl

    folder.mkdir(parents=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held by another open file: as another process would
        monkeypatch.setattr(store, "LOCK_WAIT", 0.3)
        assert torch.equal(store.remembered("m", store.key_of("stuck"), lambda: {"x": torch.ones(2)})["x"],
                           torch.ones(2))
    finally:
        os.close(fd)
