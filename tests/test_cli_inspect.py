"""The inspect/chapters commands: real numbers out, one clear sentence and exit 2 for bad input."""

import json
import os

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import mha_core
from cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and mha_core.__version__ in result.output


def test_inspect_json_matches_the_core(run):
    result = run("inspect", "--model", "toy", "--sentence", "The cat sat down.", "--heads", "2", "--d-model", "8", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    trace = mha_core.trace_sentence("The cat sat down.", d_model=8, n_head=2, seed=3)
    assert data["tokens"] == ["The", "cat", "sat", "down", "."]
    assert data["stages"]["weights"]["shape"] == [2, 5, 5]
    torch.testing.assert_close(torch.tensor(data["stages"]["weights"]["values"], dtype=torch.float64), trace.weights.double())
    torch.testing.assert_close(torch.tensor(data["stages"]["output"]["values"], dtype=torch.float64), trace.output.double())
    assert data["cost"]["parameters"] == 4 * 8 * 8 + 4 * 8


def test_inspect_causal_json_writes_masked_scores_as_null(run):
    data = json.loads(run("inspect", "--model", "toy", "--sentence", "a b c", "--heads", "1", "--d-model", "4", "--causal", "--json").output)
    masked = data["stages"]["masked"]["values"][0]
    assert masked[0][1] is None and masked[1][0] is not None
    assert data["stages"]["weights"]["values"][0][0][1] == 0.0


def test_inspect_tables_show_tokens_shapes_and_values(run):
    result = run("inspect", "--model", "toy", "--sentence", "The cat sat.", "--heads", "2", "--d-model", "8")
    assert result.exit_code == 0
    trace = mha_core.trace_sentence("The cat sat.", d_model=8, n_head=2)
    assert "[0] The" in result.output and "[head, query_pos, key_pos]" in result.output
    assert f"{trace.weights[0, 0, 0].item():.2f}" in result.output
    assert "d_k = d_model / h = 4" in result.output


def _printed_heads(output: str) -> list[int]:
    """The head numbers of the per-head tables ("head 2: ..."), in order, each once."""
    import re

    return list(dict.fromkeys(int(n) for n in re.findall(r"^head (\d+): ", output, re.MULTILINE)))


def test_inspect_numbers_heads_from_1_and_shows_every_head_by_default(run):
    result = run("inspect", "--model", "toy", "--sentence", "The cat sat.", "--heads", "4", "--d-model", "8")
    assert result.exit_code == 0, result.output
    assert _printed_heads(result.output) == [1, 2, 3, 4]  # as on screen, in `heads` and in --head
    assert "head 1: attention weights" in result.output and "head 1: q " not in result.output
    data = json.loads(run("inspect", "--model", "toy", "--sentence", "The cat sat.", "--heads", "4", "--d-model", "8",
                          "--json").output)
    assert data["head_numbers"] == [1, 2, 3, 4] and data["stages"]["q"]["shape"] == [4, 4, 2]


@pytest.mark.parametrize("causal", [False, True])
def test_inspect_head_prints_that_heads_stages_only(run, causal):
    args = ["inspect", "--model", "toy", "-s", "The cat sat.", "--heads", "4", "-d", "8", "--seed", "5",
            *(["--causal"] if causal else []), "--head", "2"]
    trace = mha_core.trace_sentence("The cat sat.", d_model=8, n_head=4, seed=5, causal=causal)
    tables = run(*args, "--digits", "4").output
    assert _printed_heads(tables) == [2]
    stages = ["q", "k", "v", "scores", "scaled", *(["masked"] if causal else []), "attention weights", "its output"]
    for stage in stages:
        assert f"head 2: {stage} " in tables, stage
    assert ("head 2: masked " in tables) == causal
    for name in ("q", "v", "scores", "weights", "heads"):  # head 2's numbers (index 1), not head 1's
        assert f"{getattr(trace, name)[1, -1, 0].item():.4f}" in tables, name
    assert "Heads numbered from 1; shown: 2" in tables
    data = json.loads(run(*args, "--json").output)
    assert data["head_numbers"] == [2] and data["n_head"] == 4
    for name in ("q", "k", "v", "scores", "weights", "heads"):
        assert data["stages"][name]["shape"][0] == 1
        torch.testing.assert_close(torch.tensor(data["stages"][name]["values"][0], dtype=torch.float64),
                                   getattr(trace, name)[1].double())
    torch.testing.assert_close(torch.tensor(data["stages"]["output"]["values"], dtype=torch.float64),
                               trace.output.double())  # the block's output: every head, as before


def test_inspect_head_auto_is_the_lessons_head(run):
    result = run("inspect", "--model", "toy", "-s", "The cat sat.", "--heads", "2", "-d", "8", "--head", "auto")
    assert result.exit_code == 0 and _printed_heads(result.output) == [1]  # the toy lesson works through head 1


def test_inspect_head_of_a_lesson_toml_selects_too(run, tmp_path):
    path = tmp_path / "lesson.toml"
    path.write_text('sentence = "The cat sat."\nmodel = "toy"\nheads = 2\nd_model = 8\nhead = 2\n', encoding="utf-8")
    assert _printed_heads(run("inspect", "--config", str(path)).output) == [2]
    path.write_text('sentence = "The cat sat."\nmodel = "toy"\nheads = 2\nd_model = 8\nhead = "auto"\n',
                    encoding="utf-8")  # the default, as `config init` writes it: every head
    assert _printed_heads(run("inspect", "--config", str(path)).output) == [1, 2]


def test_inspect_induction_numbers_layers_and_heads_from_1(run):
    from mha_core.induction import load_induction_model

    model = load_induction_model("cpu")
    result = run("inspect", "--model", "induction", "--layer", "2", "--head", "3")
    assert result.exit_code == 0, result.output
    assert _printed_heads(result.output) == [3] and "layer 2" in result.output
    data = json.loads(run("inspect", "--model", "induction", "--layer", "2", "--head", "3", "--json").output)
    assert (data["layer"], data["layer_number"], data["head_numbers"]) == (1, 2, [3])  # "layer": 0-based, as before
    assert [(h["layer_number"], h["head_number"], h["head"]) for h in data["heads"]] == [(2, 3, 2)]
    trace = model.trace(torch.tensor(data["token_ids"]), 1)
    torch.testing.assert_close(torch.tensor(data["stages"]["weights"]["values"][0], dtype=torch.float64),
                               trace.weights[2].double())
    every = json.loads(run("inspect", "--model", "induction", "--layer", "1", "--json").output)
    assert every["head_numbers"] == list(range(1, model.n_head + 1))
    assert [h["head_number"] for h in every["heads"]] == list(range(1, model.n_head + 1))
    bad = run("inspect", "--model", "induction", "--head", str(model.n_head + 1))
    assert bad.exit_code == 2 and f"--head {model.n_head + 1} is out of range; pick 1 to {model.n_head}" in bad.output


def test_inspect_save_writes_the_tensors(run, tmp_path):
    path = tmp_path / "trace.safetensors"
    result = run("inspect", "--model", "toy", "--sentence", "The cat sat.", "--heads", "2", "--d-model", "8", "--save", str(path))
    assert result.exit_code == 0 and path.exists()
    tensors = load_file(str(path))
    trace = mha_core.trace_sentence("The cat sat.", d_model=8, n_head=2)
    assert torch.equal(tensors["weights"], trace.weights)
    assert not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sentence", "   "], 'sentence = "   " is empty'),
        (["-s", "Hello"], "attention needs at least two words to attend between"),
        (["--model", "toy", "--heads", "3", "--d-model", "8"], "heads = 3 does not divide d_model = 8; pick 1, 2, 4 or 8"),
        (["--model", "toy", "--heads", "0"], "heads = 0 is out of range; pick 1 to 64"),
        (["--model", "toy", "--d-model", "-8"], "d_model = -8 is out of range; pick 1 to 1024"),
        (["--model", "toy", "-d", "100000"], "d_model = 100000 is out of range; pick 1 to 1024"),
        (["--model", "toy", "--seed", "-1"], "seed = -1 is out of range; pick 0 to 4294967295"),
        (["--model", "toy", "--seed", "18446744073709551616"], "seed = 18446744073709551616 is out of range"),
        (["--device", "tpu9"], 'device = "tpu9" is not a device'),
        (["--model", "toy", "--head", "0"], "head = 0 is out of range: the toy model has heads = 4, so heads 1 to 4"),
        (["--model", "toy", "--head", "99"], "head = 99 is out of range: the toy model has heads = 4, so heads 1 to 4"),
        (["--head", "0"], "head = 0 is out of range: all-MiniLM-L6-v2 has heads 1 to 12"),
        (["--head", "99"], "head = 99 is out of range: all-MiniLM-L6-v2 has heads 1 to 12"),
        (["--save", "/no/such/folder/t.safetensors"], "does not exist"),
    ],
)
def test_inspect_bad_input_is_one_sentence_and_exit_2(run, args, message):
    result = run("inspect", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1


def test_inspect_refuses_an_unwritable_folder(run):
    # /proc takes no new files, whoever runs the tests (root included).
    result = run("inspect", "--save", "/proc/t.safetensors")
    assert result.exit_code == 2 and "cannot write to /proc" in result.output


def test_inspect_save_to_a_folder_is_refused(run, tmp_path):
    result = run("inspect", "--save", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.output


def test_chapters_lists_the_lesson_in_order(run):
    from scenes.lesson.config import CHAPTER_IDS

    result = run("chapters")
    assert result.exit_code == 0
    ids = [line.split()[1] for line in result.output.splitlines()]
    assert ids == list(CHAPTER_IDS)


def test_inspect_minilm_prints_the_pretrained_heads(run):
    sentence = "The cat sat down because it was tired."
    result = run("inspect", "--model", "minilm", "--layer", "1", "--sentence", sentence, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    trace = mha_core.trace_pretrained(sentence, layer=0, device="cpu")  # checked against transformers in test_pretrained
    assert data["tokens"][0] == "[CLS]" and data["tokens"][-1] == "[SEP]"
    assert data["n_head"] == 12 and data["d_model"] == 384
    torch.testing.assert_close(torch.tensor(data["stages"]["weights"]["values"], dtype=torch.float64), trace.weights.double())
    profiles = mha_core.corpus_profiles_of(mha_core.load_model("minilm"), 0)
    assert [p["label"] for p in data["head_profiles"]] == [p.label for p in profiles]
    assert [(p["layer_number"], p["head_number"]) for p in data["head_profiles"]] == [(1, h) for h in range(1, 13)]
    assert (data["layer"], data["layer_number"], data["head_numbers"]) == (0, 1, list(range(1, 13)))
    tables = run("inspect", "--model", "minilm", "--layer", "1", "--sentence", sentence).output
    assert "Head signatures" in tables and "previous token = key i-1 for query i" in tables
    assert _printed_heads(tables) == list(range(1, 13))
    one = run("inspect", "--model", "minilm", "--layer", "1", "--head", "12", "--sentence", sentence).output
    assert _printed_heads(one) == [12]
    signature_rows = one.split("Head signatures")[1].splitlines()
    assert [row.split("│")[1].strip() for row in signature_rows if row.startswith("│")] == ["12"]  # its row only


def test_inspect_minilm_rejects_a_missing_layer_and_causal(run):
    result = run("inspect", "--model", "minilm", "--layer", "9")
    assert result.exit_code == 2 and "layer = 9 is out of range; pick 1 to 6" in result.output
    result = run("inspect", "--model", "minilm", "--causal")
    assert result.exit_code == 2 and "bidirectional" in result.output


def test_inspect_reads_the_model_settings_of_a_lesson_toml(run, tmp_path):
    path = tmp_path / "lesson.toml"
    path.write_text('sentence = "The cat sat."\nmodel = "toy"\nheads = 2\nd_model = 8\nseed = 3\ntheme = "light"\n',
                    encoding="utf-8")
    data = json.loads(run("inspect", "--config", str(path), "--json").output)
    trace = mha_core.trace_sentence("The cat sat.", d_model=8, n_head=2, seed=3)
    torch.testing.assert_close(torch.tensor(data["stages"]["output"]["values"], dtype=torch.float64), trace.output.double())
    flagged = json.loads(run("inspect", "--model", "toy", "--config", str(path), "--heads", "4", "--json").output)
    assert flagged["n_head"] == 4 and flagged["d_model"] == 8  # flags override the file


def test_inspect_defaults_are_the_lessons(run):
    from scenes.lesson.build import build_lesson
    from scenes.lesson.config import LessonConfig

    data = json.loads(run("inspect", "--json").output)
    lesson = build_lesson(LessonConfig())  # MiniLM at the layer of the head chosen for the focus word
    assert data["tokens"] == list(lesson.tokens) and (data["n_head"], data["d_model"]) == (12, 384)
    torch.testing.assert_close(torch.tensor(data["stages"]["output"]["values"], dtype=torch.float64),
                               lesson.trace.output.double())
    toy = json.loads(run("inspect", "--model", "toy", "--json").output)
    trace = mha_core.trace_sentence("The cat sat down because it was tired.", d_model=16, n_head=4, seed=0)
    torch.testing.assert_close(torch.tensor(toy["stages"]["output"]["values"], dtype=torch.float64), trace.output.double())


def test_inspect_save_keeps_an_existing_file_unless_forced(run, tmp_path):
    path = tmp_path / "trace.safetensors"
    path.write_bytes(b"mine")
    result = run("inspect", "-s", "The cat sat.", "--save", str(path))
    assert result.exit_code == 2 and "already exists; pass --force to overwrite it" in result.output
    assert path.read_bytes() == b"mine"
    result = run("inspect", "-s", "The cat sat.", "--save", str(path), "--force")
    assert result.exit_code == 0, result.output
    assert set(load_file(str(path))) >= {"x", "weights", "output"}
    assert [p.name for p in tmp_path.iterdir()] == ["trace.safetensors"]


def test_saved_metadata_names_each_tensors_axes(run, tmp_path):
    from safetensors import safe_open

    from mha_core.trace import CONVENTIONS

    path = tmp_path / "t.safetensors"
    assert run("inspect", "--model", "toy", "-s", "Le café est fermé.", "--causal", "--heads", "2", "-d", "8",
               "--save", str(path)).exit_code == 0
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
        names = set(f.keys())
    convention = json.loads(metadata["convention"])
    assert convention == {name: CONVENTIONS[name] for name in names}
    assert convention["x"] == "[pos, d_model]" and convention["q"] == "[head, pos, d_head]"
    assert convention["weights"] == "[head, query_pos, key_pos]" and convention["mask"] == "[query_pos, key_pos]"
    assert metadata["tokens"].split("\x1f") == ["Le", "café", "est", "fermé", "."]


_SAVE = """
import sys
import mha_core
from mha_core.files import save_safetensors
trace = mha_core.trace_sentence("The cat sat down.", d_model=8, n_head=2, seed=1, causal=True)
trace.save(sys.argv[1])
save_safetensors({"b": trace.x, "a": trace.weights}, sys.argv[2], {k: str(i) for i, k in enumerate("zyxwvuts")})
"""


def test_same_trace_same_bytes_in_two_processes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from safetensors import safe_open

    root = Path(__file__).resolve().parents[1]
    files = []
    for run_number in (1, 2):
        paths = [tmp_path / f"trace{run_number}.safetensors", tmp_path / f"plain{run_number}.safetensors"]
        done = subprocess.run([sys.executable, "-c", _SAVE, *map(str, paths)], cwd=root, capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": str(run_number)})
        assert done.returncode == 0, done.stderr
        files.append([p.read_bytes() for p in paths])
    assert files[0] == files[1]
    trace = mha_core.trace_sentence("The cat sat down.", d_model=8, n_head=2, seed=1, causal=True)
    loaded = load_file(str(tmp_path / "trace1.safetensors"))
    assert set(loaded) == set(trace.tensors())
    for name, tensor in trace.tensors().items():
        assert torch.equal(loaded[name], tensor.cpu()), name
    with safe_open(str(tmp_path / "plain1.safetensors"), "pt") as f:
        assert f.metadata() == {k: str(i) for i, k in enumerate("zyxwvuts")}
    header_length = int.from_bytes(files[0][1][:8], "little")
    assert header_length % 8 == 0
    header = json.loads(files[0][1][8:8 + header_length])
    assert list(header["__metadata__"]) == sorted("zyxwvuts")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def _wait_for_handlers(pid: int, timeout: float = 20.0) -> None:
    """Until the CLI has installed its handlers (SIGTERM among the caught signals; Linux), else 1 s."""
    import signal
    import time
    from pathlib import Path

    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        time.sleep(1.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        caught = next((line.split()[1] for line in status.read_text().splitlines() if line.startswith("SigCgt:")), "0")
        if int(caught, 16) >> (signal.SIGTERM - 1) & 1:
            return
        time.sleep(0.02)


def test_ctrl_c_exits_130_without_a_traceback(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        # MiniLM takes seconds to load: the signal comes while it does.
        proc = subprocess.Popen([sys.executable, str(root / "cli.py"), "inspect", "--model", "minilm"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_handlers(proc.pid)  # installed before the command starts: torch and the weights still to load
        time.sleep(0.05)
        assert proc.poll() is None, "the command ended before the signal"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, (signum, err[-2000:])
        assert "Traceback" not in err and "Aborted" not in err, err[-2000:]


def test_c_locale_reads_and_prints_non_ascii_text(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    env.pop("PYTHONIOENCODING", None)
    (tmp_path / "lesson.toml").write_text('sentence = "Le café est fermé."\ntitle = "Ça marche"\n', encoding="utf-8")

    def cli(*args):
        return subprocess.run([sys.executable, str(root / "cli.py"), *args], cwd=tmp_path, env=env,
                              capture_output=True)

    shown = cli("config", "show", "--config", "lesson.toml")
    assert shown.returncode == 0, shown.stderr
    assert 'sentence = "Le café est fermé."' in shown.stdout.decode("utf-8")
    for args in (["--config", "lesson.toml"], ["-s", "Le café est fermé."]):
        tables = cli("inspect", "--model", "toy", "--heads", "2", "-d", "8", *args)
        assert tables.returncode == 0, tables.stderr
        assert b"Traceback" not in tables.stderr
        data = json.loads(cli("inspect", "--model", "toy", "--heads", "2", "-d", "8", "--json", *args).stdout.decode("utf-8"))
        assert data["tokens"] == ["Le", "café", "est", "fermé", "."]
    bad = cli("inspect", "-s", "Le café 猫 dort.")
    assert bad.returncode == 2 and "猫 (U+732B)" in bad.stderr.decode("utf-8")
    assert b"Traceback" not in bad.stderr
