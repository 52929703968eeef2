"""The inspect/chapters commands: real numbers out, one clear sentence and exit 2 for bad input."""

import json

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
    result = run("inspect", "--sentence", "The cat sat down.", "--heads", "2", "--d-model", "8", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    trace = mha_core.trace_sentence("The cat sat down.", d_model=8, n_head=2, seed=3)
    assert data["tokens"] == ["The", "cat", "sat", "down", "."]
    assert data["stages"]["weights"]["shape"] == [2, 5, 5]
    torch.testing.assert_close(torch.tensor(data["stages"]["weights"]["values"], dtype=torch.float64), trace.weights.double())
    torch.testing.assert_close(torch.tensor(data["stages"]["output"]["values"], dtype=torch.float64), trace.output.double())
    assert data["cost"]["parameters"] == 4 * 8 * 8 + 4 * 8


def test_inspect_causal_json_writes_masked_scores_as_null(run):
    data = json.loads(run("inspect", "--sentence", "a b c", "--heads", "1", "--d-model", "4", "--causal", "--json").output)
    masked = data["stages"]["masked"]["values"][0]
    assert masked[0][1] is None and masked[1][0] is not None
    assert data["stages"]["weights"]["values"][0][0][1] == 0.0


def test_inspect_tables_show_tokens_shapes_and_values(run):
    result = run("inspect", "--sentence", "The cat sat.", "--heads", "2", "--d-model", "8")
    assert result.exit_code == 0
    trace = mha_core.trace_sentence("The cat sat.", d_model=8, n_head=2)
    assert "[0] The" in result.output and "[head, query_pos, key_pos]" in result.output
    assert f"{trace.weights[0, 0, 0].item():.2f}" in result.output
    assert "d_k = d_model / h = 4" in result.output


def test_inspect_save_writes_the_tensors(run, tmp_path):
    path = tmp_path / "trace.safetensors"
    result = run("inspect", "--sentence", "The cat sat.", "--heads", "2", "--d-model", "8", "--save", str(path))
    assert result.exit_code == 0 and path.exists()
    tensors = load_file(str(path))
    trace = mha_core.trace_sentence("The cat sat.", d_model=8, n_head=2)
    assert torch.equal(tensors["weights"], trace.weights)
    assert not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sentence", "   "], "sentence is empty"),
        (["--heads", "3", "--d-model", "8"], "--heads = 3 does not divide --d-model = 8; pick 1, 2, 4 or 8"),
        (["--heads", "0"], "--heads must be a positive whole number"),
        (["--d-model", "-8"], "--d-model must be a positive whole number"),
        (["--seed", "-1"], "--seed must be 0 or more"),
        (["--device", "tpu9"], "unknown device"),
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
    from scenes.config import CHAPTER_IDS

    result = run("chapters")
    assert result.exit_code == 0
    ids = [line.split()[1] for line in result.output.splitlines()]
    assert ids == list(CHAPTER_IDS)


def test_inspect_minilm_prints_the_pretrained_heads(run):
    sentence = "The cat sat down because it was tired."
    result = run("inspect", "--model", "minilm", "--layer", "0", "--sentence", sentence, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    trace = mha_core.trace_pretrained(sentence, layer=0, device="cpu")  # checked against transformers in test_pretrained
    assert data["tokens"][0] == "[CLS]" and data["tokens"][-1] == "[SEP]"
    assert data["n_head"] == 12 and data["d_model"] == 384
    torch.testing.assert_close(torch.tensor(data["stages"]["weights"]["values"], dtype=torch.float64), trace.weights.double())
    profiles = mha_core.corpus_profiles(0)
    assert [p["label"] for p in data["head_profiles"]] == [p.label for p in profiles]
    tables = run("inspect", "--model", "minilm", "--layer", "0", "--sentence", sentence).output
    assert "Head signatures" in tables and "previous token = key i-1 for query i" in tables


def test_inspect_minilm_rejects_a_missing_layer_and_causal(run):
    result = run("inspect", "--model", "minilm", "--layer", "9")
    assert result.exit_code == 2 and "layer 9" in result.output
    result = run("inspect", "--model", "minilm", "--causal")
    assert result.exit_code == 2 and "bidirectional" in result.output
