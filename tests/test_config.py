"""LessonConfig loading: defaults <- lesson.toml <- flags, and one clear sentence per mistake."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from cli import main
from scenes.config import (
    CHAPTER_IDS,
    KNOWN_KEYS,
    ConfigError,
    LessonConfig,
    default_toml,
    load_config,
    load_config_with_sources,
    tomllib,
)


def error_for(path=None, **overrides) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, **overrides)
    return str(info.value)


@pytest.fixture
def toml(tmp_path):
    def write(text: str, name: str = "lesson.toml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


# -- the default file --------------------------------------------------------------------


def test_default_file_reads_back_to_the_defaults(toml):
    path = toml(default_toml())
    assert load_config(path) == LessonConfig()
    table = tomllib.loads(default_toml())
    # Every key a user can set is in the file (unset optional ones as a commented line).
    commented = set(re.findall(r"^# (\w+) = ", default_toml(), flags=re.M))
    assert set(table) | commented == set(KNOWN_KEYS)
    assert commented == {k for k in KNOWN_KEYS if getattr(LessonConfig(), k) is None}


def test_default_file_documents_each_key():
    text = default_toml()
    for key in KNOWN_KEYS:
        comment = text[: text.index(f"{key} = ")].rstrip().rsplit("\n\n", 1)[-1]
        assert comment.startswith("#") and len(comment) > 10, f"{key} has no explanation above it"


def test_flags_override_the_file_which_overrides_defaults(toml):
    path = toml('heads = 2\nd_model = 8\ntheme = "light"\nchapters = ["cost", "intro"]\n')
    config, sources = load_config_with_sources(path, heads=8, theme=None, formats=())
    assert (config.heads, config.d_model, config.theme) == (8, 8, "light")  # flag, file, file
    assert config.chapters == ("cost", "intro")  # the file's order is kept
    assert config.seed == LessonConfig().seed  # default
    assert sources["heads"] == "flag"
    assert sources["d_model"] == f"{path} line 2"
    assert sources["seed"] == "default"


def test_flag_values_are_parsed_like_the_cli_gives_them():
    config = load_config(chapters="intro, cost", quality="h", formats=("webm", "mp4", "webm"))
    assert config.chapters == ("intro", "cost")
    assert config.quality == "high" and (config.height, config.frame_rate) == (1080, 60)
    assert config.formats == ("webm", "mp4")


# -- bad values: key, value and what is allowed -------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"heads": 3, "d_model": 8}, "heads = 3 does not divide d_model = 8; pick 1, 2, 4 or 8"),
        ({"model": "gpt2"}, 'model = "gpt2" is not allowed; choose toy or minilm'),
        ({"theme": "blue"}, 'theme = "blue" is not allowed; choose dark or light'),
        ({"layer": 6}, "layer = 6 is out of range; pick 0 to 5"),
        ({"pacing": 0}, "pacing = 0 is out of range; pick 0.1 to 4.0"),
        ({"fps": 500}, "fps = 500 is out of range; pick 1 to 120"),
        ({"heads": "four"}, 'heads = "four" is not a whole number; pick 1 to 64'),
        ({"causal": "maybe"}, 'causal = "maybe" is not true or false'),
        ({"quality": "ultra"}, "choose preview, low, medium, high or 4k (or l, m, h, k)"),
        ({"formats": ("mp4", "avi")}, '"avi" in formats = ["mp4", "avi"] is not allowed; choose mp4, webm, gif or png'),
        ({"chapters": ("intro", "outro")}, "unknown chapter 'outro'; choose from intro, one-head,"),
        ({"chapters": ("intro", "intro")}, "lists 'intro' twice"),
        ({"sentence": "   "}, 'sentence = "   " is empty'),
        ({"sentence": "word " * 120}, "sentence is 600 characters long; keep it to 500 or fewer"),
        ({"device": "tpu"}, 'device = "tpu" is not a device; choose cpu, cuda, cuda:N, mps or auto'),
    ],
)
def test_bad_value_names_key_value_and_allowed(overrides, expected):
    message = error_for(**overrides)
    assert expected in message
    assert "\n" not in message and "Traceback" not in message


def test_unavailable_device_is_caught_before_rendering():
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        assert load_config(device="cuda").device == "cuda"
        assert f"this machine has cuda:0 to cuda:{count - 1}" in error_for(device=f"cuda:{count}")
    else:
        assert error_for(device="cuda:0") == (
            'device = "cuda:0" asks for CUDA, but this torch sees no CUDA device; use auto or cpu')
    assert load_config(device="auto").device == "auto"


def test_heads_choices_come_from_d_model():
    # 12 divides 384 and so do 1 .. 64 of its divisors: the message lists exactly those.
    message = error_for(heads=5, d_model=384)
    listed = [int(n) for n in re.findall(r"\d+", message.split("pick", 1)[1])]
    assert listed == [h for h in range(1, 65) if 384 % h == 0]


def test_error_in_the_file_names_its_line(toml):
    path = toml('sentence = "The cat sat."\n\nd_model = 8\nheads = 3\n')
    assert error_for(path) == f"{path} line 4: heads = 3 does not divide d_model = 8; pick 1, 2, 4 or 8"


def test_several_bad_values_make_one_sentence(toml):
    message = error_for(toml('layer = 9\ntheme = "pink"\n'))
    assert "line 1: layer = 9" in message and 'line 2: theme = "pink"' in message
    assert message.count("\n") == 0


def test_malformed_toml_reports_the_line(toml):
    path = toml('sentence = "The cat sat."\ntheme = light\n')
    message = error_for(path)
    assert message.startswith(f"{path} line 2, column 9:")
    assert "not valid TOML" in message

    assert error_for(toml('title = "unfinished\n')).startswith(f"{path} line 1")
    assert "line 2" in error_for(toml('heads = 2\nheads = 4\n'))  # a key given twice


def test_unknown_key_names_the_known_ones(toml):
    path = toml('sentence = "Hi there."\npace = 2\n')
    message = error_for(path)
    assert message.startswith(f"{path} line 2: unknown key 'pace'")
    assert "did you mean 'pacing'?" in message
    for key in KNOWN_KEYS:
        assert key in message
    assert "unknown flag 'colour'" in error_for(colour="red")


def test_tables_are_unknown_keys(toml):
    message = error_for(toml('heads = 2\n\n[render]\nfps = 5\n'))
    assert "line 3: unknown key 'render'" in message


def test_missing_file_and_non_utf8_file(tmp_path):
    assert "does not exist; create one with `mha-explainer config init" in error_for(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('title = "ok"\nsentence = "caf\xe9"\n'.encode("latin-1"))
    assert error_for(bad) == f"{bad} line 2: the file is not UTF-8 text; save it as UTF-8"


def test_config_error_is_a_usage_error():
    import click

    with pytest.raises(click.UsageError) as info:
        load_config(heads=0)
    assert info.value.exit_code == 2
    assert isinstance(info.value, ValueError)


def test_effective_config_round_trips_through_toml(toml):
    config = load_config(heads=2, d_model=8, sentence='She said "hi" \\ left.', chapters="cost,intro", fps=12)
    assert load_config(toml(config.to_toml())) == config


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_config_init_writes_defaults_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    path = tmp_path / "lesson.toml"
    result = runner.invoke(main, ["config", "init", str(path)])
    assert result.exit_code == 0, result.output
    assert load_config(path) == LessonConfig()

    path.write_text("heads = 2\n")
    result = runner.invoke(main, ["config", "init", str(path)])
    assert result.exit_code == 2
    assert "already exists; pass --force to overwrite it" in result.output
    assert path.read_text() == "heads = 2\n"  # untouched

    result = runner.invoke(main, ["config", "init", str(path), "--force"])
    assert result.exit_code == 0
    assert load_config(path) == LessonConfig()
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.toml"]  # no temp file left


def test_cli_config_init_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["config", "init"]).exit_code == 0
    assert load_config("lesson.toml") == LessonConfig()


def test_cli_config_show_merges_file_and_flags(toml):
    path = toml('heads = 2\nd_model = 8\ntheme = "light"\n')
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path), "--heads", "8", "-q", "l",
                                       "--chapters", "intro,cost", "--format", "webm", "--format", "mp4"])
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.output)
    assert shown["heads"] == 8 and shown["d_model"] == 8 and shown["theme"] == "light"
    assert shown["quality"] == "low" and shown["chapters"] == ["intro", "cost"] and shown["formats"] == ["webm", "mp4"]
    assert re.search(r"^heads = 8  # flag$", result.output, flags=re.M)
    assert re.search(rf"^d_model = 8  # {re.escape(str(path))} line 2$", result.output, flags=re.M)
    # What show prints is itself a config file that gives the same config.
    assert load_config(toml(result.output, "shown.toml")) == load_config(path, heads=8, quality="l",
                                                                         chapters="intro,cost", formats=("webm", "mp4"))

    as_json = CliRunner().invoke(main, ["config", "show", "--json", "--causal"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == LessonConfig(causal=True).model_dump(mode="json")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--heads", "3", "--d-model", "8"], "heads = 3 does not divide d_model = 8; pick 1, 2, 4 or 8"),
        (["--chapters", "intro,outro"], "unknown chapter 'outro'"),
        (["--pacing", "9"], "pacing = 9.0 is out of range; pick 0.1 to 4.0"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
    ],
)
def test_cli_bad_input_exits_2_with_one_sentence(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["config", "show", *args])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1


def test_cli_malformed_file_exits_2_with_line(toml):
    path = toml("heads = 2\nd_model = = 8\n")
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    assert result.exit_code == 2
    assert f"Error: {path} line 2, column" in result.output


def test_chapter_ids_are_the_default_order():
    assert load_config().chapters == CHAPTER_IDS
