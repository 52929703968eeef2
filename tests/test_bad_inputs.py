"""Every bad input gets one sentence: exit 2, one `Error:` line, no traceback, nothing written.

One table for every command. A row is a command line (``{tmp}`` is the test's folder,
``{toml}`` its lesson.toml), optionally the text of that lesson.toml (str, or bytes for a
BOM or another encoding), files to create first, an environment, and a piece of the
expected message. Render rows are all rejected by the config, before anything renders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

BOM = b"\xef\xbb\xbf"

# (id, command line, lesson.toml text or None, files to create {name: bytes | None (a folder)}, env, expected)
ROWS = [
    # -- inspect: the same checks as render ----------------------------------------------------
    ("inspect-huge-width", "inspect -d 100000", None, {}, {}, "d_model = 100000 is out of range; pick 1 to 1024"),
    ("inspect-seed-overflow", "inspect --seed 18446744073709551616", None, {}, {},
     "seed = 18446744073709551616 is out of range; pick 0 to 4294967295"),
    ("inspect-seed-negative", "inspect --seed -1", None, {}, {}, "seed = -1 is out of range"),
    ("inspect-heads-zero", "inspect --heads 0", None, {}, {}, "heads = 0 is out of range; pick 1 to 64"),
    ("inspect-heads-divide", "inspect --heads 3 -d 8", None, {}, {}, "heads = 3 does not divide d_model = 8"),
    ("inspect-layer", "inspect --model minilm --layer 7", None, {}, {}, "layer = 7 is out of range; pick 1 to 6"),
    ("inspect-minilm-causal", "inspect --model minilm --causal", None, {}, {}, "MiniLM is a bidirectional encoder"),
    ("inspect-device", "inspect --device tpu", None, {}, {}, 'device = "tpu" is not a device'),
    ("inspect-one-word", "inspect -s Hello", None, {}, {}, "attention needs at least two words to attend between"),
    ("inspect-no-words", "inspect -s ?!", None, {}, {}, 'sentence = "?!" has no words'),
    ("inspect-empty", ["inspect", "-s", "  "], None, {}, {}, 'sentence = "  " is empty'),
    ("inspect-arabic", ["inspect", "-s", "القطة جلست على السجادة"], None, {}, {},
     "right-to-left scripts are not supported yet"),
    ("inspect-hebrew", ["inspect", "-s", "החתול ישב על השטיח"], None, {}, {}, "has right-to-left characters: ה (U+05D4)"),
    ("inspect-cjk", ["inspect", "-s", "猫が座った"], None, {}, {},
     "has characters the lesson's font (DejaVu Sans) cannot draw: 猫 (U+732B)"),
    ("inspect-emoji", ["inspect", "-s", "The cat 🚀 sat"], None, {}, {}, "cannot draw: 🚀 (U+1F680)"),
    ("inspect-zero-width", ["inspect", "-s", "The cat\u200b sat"], None, {}, {},
     "invisible control characters: U+200B (ZERO WIDTH SPACE)"),
    ("inspect-control", ["inspect", "-s", "The cat\x07 sat"], None, {}, {}, "U+0007"),
    ("inspect-too-long", ["inspect", "-s", "word " * 101], None, {}, {}, "keep it to 500 or fewer"),
    ("inspect-toml-bool-heads", "inspect --config {toml}", "heads = true\n", {}, {},
     "line 1: heads = true is not a whole number"),
    ("inspect-toml-bom-bad", "inspect --config {toml}", BOM + b'sentence = "Hello"\n', {}, {},
     'line 1: sentence = "Hello" has one word'),
    ("inspect-save-exists", "inspect --save {tmp}/t.safetensors", None, {"t.safetensors": b"mine"}, {},
     "already exists; pass --force to overwrite it"),
    ("inspect-save-no-folder", "inspect --save {tmp}/no/t.safetensors", None, {}, {}, "does not exist"),
    ("inspect-save-proc", "inspect --save /proc/t.safetensors", None, {}, {}, "cannot write to /proc"),
    ("inspect-save-folder", "inspect --save {tmp}/sub", None, {"sub": None}, {}, "is a directory"),
    ("inspect-missing-config", "inspect --config {tmp}/none.toml", None, {}, {}, "does not exist"),
    # -- bounded inputs: lengths, depth, the model's limits ----------------------------------------
    ("inspect-save-long-name", "inspect --model toy --save {tmp}/" + "x" * 300, None, {}, {},
     "is 300 bytes long, but names are limited to 255 bytes"),
    ("inspect-save-long-path", "inspect --model toy --save {tmp}/" + "a/" * 2100 + "t", None, {}, {},
     "but paths are limited to 4095 bytes"),
    ("init-long-name", "config init {tmp}/" + "x" * 256, None, {}, {}, "names are limited to 255 bytes"),
    ("train-long-name", "train induction --out {tmp}/" + "x" * 300, None, {}, {}, "names are limited to 255 bytes"),
    ("show-config-long-name", "config show --config {tmp}/" + "x" * 300, None, {}, {},
     "names are limited to 255 bytes"),
    ("render-voice-long-name", "render --voice {tmp}/" + "x" * 300 + ".onnx -o {tmp}/out", None, {}, {},
     "voice: the name"),
    ("show-toml-deep", "config show --config {toml}", "title = " + "[" * 5000 + "]" * 5000 + "\n", {}, {},
     "nests arrays or tables too deeply to read"),
    ("show-toml-huge", "config show --config {toml}", "# " + "x" * (1 << 20) + "\n", {}, {},
     "is larger than 1024 KiB"),
    ("show-title-long", ["config", "show", "--title", "x" * 201], None, {}, {},
     "title is 201 characters long; keep it to 200 or fewer"),
    ("show-word-pieces", ["config", "show", "-s", "a, " * 160 + "end"], None, {}, {},
     "the sentence is 323 word pieces for all-MiniLM-L6-v2, whose sentence embedding reads at most 256"),
    ("inspect-word-pieces", ["inspect", "-s", "a, " * 160 + "end"], None, {}, {}, "reads at most 256"),
    ("render-word-pieces", ["render", "-s", "1, " * 160 + "end", "-o", "{tmp}/out"], None, {}, {},
     "the sentence is 323 word pieces"),
    ("inspect-token-overflow", ["inspect", "--model", "induction", "--tokens", "0 99999999999999999999999 3"], None,
     {}, {}, "token id 999999999999… is out of range; ids run from 0 to 63"),
    ("inspect-token-negative", ["inspect", "--model", "induction", "--tokens", "0 -1 3"], None, {}, {},
     "token id -1 is out of range"),
    # -- render: options of a model the lesson does not use --------------------------------------
    ("render-minilm-heads", "render --model minilm --heads 8 -o {tmp}/out", None, {}, {},
     "heads = 8 sets up the toy model, which this lesson does not use"),
    ("render-minilm-causal", "render --model minilm --causal -o {tmp}/out", None, {}, {},
     "MiniLM is a bidirectional encoder"),
    ("render-toy-layer", "render --model toy --layer 3 -o {tmp}/out", None, {}, {},
     "layer = 3 picks a MiniLM layer, but the mechanics chapters use the toy model"),
    ("render-toml-minilm-seed", "render --config {toml} -o {tmp}/out", 'model = "minilm"\nseed = 7\n', {}, {},
     "line 2: seed = 7 sets up the toy model"),
    # -- render: the narrator's voice ------------------------------------------------------------
    ("render-voice-name", "render --voice bob -o {tmp}/out", None, {}, {}, 'voice = "bob" is not a voice'),
    # -- the author's look: accent and font ------------------------------------------------------
    ("render-accent-contrast", ["render", "--theme", "light", "--accent", "#FFD166", "-o", "{tmp}/out"], None, {}, {},
     'accent = "#FFD166" has a contrast of 1.32:1 against the light theme\'s cards'),
    ("render-accent-head", ["render", "--accent", "#799e0c", "-o", "{tmp}/out"], None, {}, {},
     "looks like head 1's colour in the dark theme (#799E0C, CIELAB distance 0.0, under 12)"),
    ("render-accent-word", ["render", "--accent", "orange", "-o", "{tmp}/out"], None, {}, {},
     'accent = "orange" is not a colour; write it as "#RRGGBB"'),
    ("render-toml-accent-table", "render --config {toml} -o {tmp}/out", 'accent = {dark = "#FFB000", light = "#FFB000"}\n',
     {}, {}, 'line 1: accent = {dark = "#FFB000", light = "#FFB000"} gives light #FFB000, which has a contrast of'),
    ("render-toml-accent-theme", "render --config {toml} -o {tmp}/out", 'accent = {sepia = "#FFB000"}\n', {}, {},
     "line 1: accent = {sepia = \"#FFB000\"} has unknown theme 'sepia'"),
    ("render-font-missing", ["render", "--font", "No Such Family Xyz", "-o", "{tmp}/out"], None, {}, {},
     "font = \"No Such Family Xyz\" cannot be used: the lesson's font 'No Such Family Xyz' is not installed"),
    ("render-font-glyph", ["render", "--font", "DejaVu Serif", "-s", "Le chat 猫 dort.", "-o", "{tmp}/out"], None, {},
     {}, "has characters the lesson's font (DejaVu Serif) cannot draw: 猫 (U+732B); pick a font that has them"),
    ("render-voice-missing-file", "render --voice {tmp}/none.onnx -o {tmp}/out", None, {}, {},
     "none.onnx does not exist; give the path of a Piper .onnx voice"),
    ("render-voice-no-sidecar", "render --voice {tmp}/v.onnx -o {tmp}/out", None, {"v.onnx": b"not a model"}, {},
     "the voice v.onnx needs its Piper config v.onnx.json beside it"),
    ("render-voice-bad-sidecar", "render --voice {tmp}/v.onnx -o {tmp}/out", None,
     {"v.onnx": b"not a model", "v.onnx.json": b"{}"}, {}, "needs its Piper config v.onnx.json"),
    ("render-voice-no-espeak", "render --voice espeak -o {tmp}/out", None, {}, {"PATH": "{tmp}"},
     "--voice espeak needs the espeak-ng command"),
    ("render-voice-pacing", "render --pacing 3 -o {tmp}/out", None, {}, {}, "pacing 3.0 is outside 0.75 to 1.5"),
    ("render-toml-voice", "render --config {toml} -o {tmp}/out", 'voice = "mine.onnx"\n', {}, {},
     "work/mine.onnx does not exist"),
    ("render-voice-rate", "render --voice {tmp}/v.onnx -o {tmp}/out", None,
     {"v.onnx": b"not a model", "v.onnx.json": b'{"audio": {"sample_rate": 1}}'}, {},
     "v.onnx.json has audio.sample_rate = 1, but it must be a whole number from 8000 to 48000"),
    ("render-voice-espeak-path", "render --voice {tmp}/v.onnx -o {tmp}/out", None,
     {"v.onnx": b"not a model", "v.onnx.json": b'{"audio": {"sample_rate": 22050}, "num_symbols": 256, '
      b'"num_speakers": 1, "espeak": {"voice": "../../../../etc/passwd"}}'}, {},
     'espeak.voice = "../../../../etc/passwd", but it must be the name of an espeak-ng voice'),
    # -- config show -----------------------------------------------------------------------------
    ("show-toml-bool-heads", "config show --config {toml}", "heads = true\n", {}, {}, "heads = true is not a whole"),
    ("show-toml-int-causal", "config show --config {toml}", "causal = 1\n", {}, {}, "causal = 1 is not true or false"),
    ("show-toml-float-heads", "config show --config {toml}", "heads = 4.0\n", {}, {}, "heads = 4.0 is not a whole"),
    ("show-toml-bom-bad", "config show --config {toml}", BOM + b"pixel_height = 145\n", {}, {},
     "line 1: pixel_height = 145 is odd, but H.264 needs an even height; pick 144 or 146"),
    ("show-toml-latin1", "config show --config {toml}", 'title = "caf\xe9 time"\n'.encode("latin-1"), {}, {},
     "line 1: the file is not UTF-8 text"),
    ("show-toml-title-control", "config show --config {toml}", 'title = "A\\u200Etitle"\n', {}, {},
     "U+200E (LEFT-TO-RIGHT MARK)"),
    ("show-toml-title-cjk", "config show --config {toml}", 'title = "注意力"\n', {}, {}, "注 (U+6CE8)"),
    ("show-toml-syntax", "config show --config {toml}", "theme = light\n", {}, {}, "not valid TOML"),
    ("show-toml-unknown", "config show --config {toml}", "pace = 2\n", {}, {}, "did you mean 'pacing'?"),
    ("show-odd-height", "config show --pixel-height 91", None, {}, {}, "pick 90 or 92"),
    ("show-env-home", "config show --config {toml}", 'out = "~/lessons"\nseed = -3\n', {}, {"HOME": "{tmp}/home"},
     "seed = -3 is out of range"),
    # -- config init -------------------------------------------------------------------------------
    ("init-exists", "config init {tmp}/lesson.toml", "heads = 2\n", {}, {}, "already exists; pass --force"),
    ("init-folder", "config init {tmp}/sub", None, {"sub": None}, {}, "is a directory"),
    ("init-no-parent", "config init {tmp}/no/lesson.toml", None, {}, {}, "does not exist; create it or choose"),
    ("init-proc", "config init /proc/lesson.toml", None, {}, {}, "cannot write to /proc"),
    # -- render: refused by the config, before anything renders -----------------------------------------
    ("render-odd-height", "render --pixel-height 91 --out {tmp}/out", None, {}, {}, "pick 90 or 92"),
    ("render-odd-height-145", "render --pixel-height 145 --out {tmp}/out", None, {}, {}, "pick 144 or 146"),
    ("render-one-word", "render -s Hello --out {tmp}/out", None, {}, {}, "at least two words"),
    ("render-cjk", ["render", "-s", "猫が座った", "--out", "{tmp}/out"], None, {}, {}, "猫 (U+732B)"),
    ("render-arabic", ["render", "-s", "القطة جلست", "--out", "{tmp}/out"], None, {}, {},
     "right-to-left scripts are not supported yet"),
    ("render-emoji-title", ["render", "--title", "Attention 🎉", "--out", "{tmp}/out"], None, {}, {},
     "🎉 (U+1F389)"),
    ("render-huge-width", "render -d 100000 --out {tmp}/out", None, {}, {}, "d_model = 100000 is out of range"),
    ("render-seed-overflow", "render --seed 18446744073709551616 --out {tmp}/out", None, {}, {}, "is out of range"),
    ("render-toml-bool-heads", "render --config {toml} --out {tmp}/out", "heads = true\n", {}, {},
     "heads = true is not a whole number"),
    ("render-toml-bom-causal", "render --config {toml} --out {tmp}/out", BOM + b"causal = 1\n", {}, {},
     "causal = 1 is not true or false"),
    ("render-toml-out-bad", "render --config {toml} --out {tmp}/out", 'out = "out"\nsentence = "Hi"\n', {}, {},
     'sentence = "Hi" has one word'),
]


def _fill(text: str, tmp_path: Path) -> str:
    return text.replace("{tmp}", str(tmp_path)).replace("{toml}", str(tmp_path / "lesson.toml"))


def _snapshot(folder: Path) -> dict:
    return {
        path.relative_to(folder).as_posix(): (path.is_dir(), None if path.is_dir() else path.read_bytes(),
                                             path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def assert_one_sentence(result, expected: str) -> None:
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    # one sentence (an unknown key's lists every key of the lesson, some 330 characters, after the file's path)
    assert errors[0].count(". ") == 0 and len(errors[0]) < 500, errors[0]
    assert expected in errors[0], errors[0]


@pytest.mark.parametrize(("args", "toml", "files", "env", "expected"), [row[1:] for row in ROWS],
                         ids=[row[0] for row in ROWS])
def test_bad_input_is_one_sentence_and_changes_nothing(tmp_path, monkeypatch, args, toml, files, env, expected):
    work = tmp_path / "work"  # the current directory, and where every path of the row points
    work.mkdir()
    monkeypatch.chdir(work)
    if toml is not None:
        (work / "lesson.toml").write_bytes(toml.encode("utf-8") if isinstance(toml, str) else toml)
    for name, data in files.items():
        if data is None:
            (work / name).mkdir()
        else:
            (work / name).write_bytes(data)
    before = _snapshot(tmp_path)
    argv = [_fill(arg, work) for arg in (args.split() if isinstance(args, str) else args)]
    environment = {key: _fill(value, work) for key, value in env.items()}
    result = CliRunner().invoke(main, argv, env=environment or None)
    assert_one_sentence(result, expected)
    assert _snapshot(tmp_path) == before, "the command created or changed files"


def test_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders (the /proc rows cover it)")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        before = _snapshot(tmp_path)
        for argv in (["config", "init", str(folder / "lesson.toml")],
                     ["inspect", "--save", str(folder / "t.safetensors")]):
            assert_one_sentence(CliRunner().invoke(main, argv), "cannot write")
        assert _snapshot(tmp_path) == before
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(
    "sentence",
    ["Le café est fermé.", "Der Bär läuft über die Straße.", "Η γάτα κάθισε στο χαλί.", "Кошка села на ковёр.",
     "Hello world", "Ça va, Zoë?"],
)
def test_letters_the_font_draws_are_accepted(sentence):
    result = CliRunner().invoke(main, ["config", "show", "-s", sentence, "--title", sentence])
    assert result.exit_code == 0, result.output


def test_a_good_file_with_a_bom_and_whole_number_pacing_is_accepted(tmp_path):
    path = tmp_path / "lesson.toml"
    path.write_bytes(BOM + 'sentence = "Le café est fermé."\npacing = 1\n'.encode("utf-8"))
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"pacing": 1.0' in result.output
