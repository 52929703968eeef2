"""LessonConfig loading: defaults <- lesson.toml <- flags, and one clear sentence per mistake."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from scenes.lesson.config import (
    CHAPTER_IDS,
    KNOWN_KEYS,
    SECTIONS,
    ConfigError,
    LessonConfig,
    load_config,
    load_config_with_sources,
    section_of,
    tomllib,
)
from scenes.lesson.flags import FILE_ONLY, FLAGS, KINDS
from scenes.lesson.lesson_toml import default_toml, write_default_toml


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
    # out = "media" in a file means the folder next to that file.
    assert load_config(path) == LessonConfig(out=path.parent / "media")
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


# -- the keys by concern, and their flags ----------------------------------------------------


def test_each_key_belongs_to_one_concern_and_a_concerns_keys_are_together():
    """Each field names its section once; the sections partition the keys in the order they are declared."""
    order = [section_of(key) for key in KNOWN_KEYS]  # raises for a field without a section
    runs = [section for i, section in enumerate(order) if i == 0 or order[i - 1] != section]
    assert runs == list(SECTIONS), "a section's keys are split, or the sections are out of order"
    assert len({s.id for s in SECTIONS}) == len({s.title for s in SECTIONS}) == len(SECTIONS)


def test_the_default_files_sections_are_the_declared_ones():
    headers = re.findall(r"^# --- (.+?) -+$", default_toml(), flags=re.M)
    assert headers == [section.title for section in SECTIONS]
    text = default_toml()
    for section in SECTIONS:  # each key sits under its own section's header
        body = text.split(f"# --- {section.title} ")[1].split("# --- ")[0]
        assert set(re.findall(r"^#? ?(\w+) = ", body, flags=re.M)) == {k for k in KNOWN_KEYS
                                                                      if section_of(k) == section}


def test_scorm_lean_flag_sets_scorm_to_lean():
    """--scorm-lean (VALUE_FLAGS) is scorm = "lean"; --scorm/--no-scorm stay a switch; lean wins when both are given."""
    from scenes.lesson.flags import VALUE_FLAGS

    assert all(key in KNOWN_KEYS and key not in FILE_ONLY for key, _, _ in VALUE_FLAGS.values())
    for flags, shown in [(["--scorm-lean"], 'scorm = "lean"  # flag'), (["--scorm"], "scorm = true  # flag"),
                         (["--no-scorm"], "scorm = false  # flag"), ([], "scorm = false  # default"),
                         (["--scorm", "--scorm-lean"], 'scorm = "lean"  # flag'),
                         (["--scorm-lean", "--no-scorm"], 'scorm = "lean"  # flag')]:
        result = CliRunner().invoke(main, ["config", "show", "--voice", "none", *flags])
        assert result.exit_code == 0 and shown in result.output.splitlines(), (flags, result.output)


def test_every_key_has_exactly_one_flag_and_every_flag_a_key():
    """The CLI builds its flags from FLAGS: a new LessonConfig field needs its flag (or a reason it has none)."""
    flagged = [key for key, _, _ in FLAGS.values()]
    assert len(flagged) == len(set(flagged)), "a key has two flags"
    assert set(flagged) <= set(KNOWN_KEYS), f"flags for no field: {sorted(set(flagged) - set(KNOWN_KEYS))}"
    assert not set(flagged) & set(FILE_ONLY), "a key both has a flag and is listed as file-only"
    assert set(flagged) | set(FILE_ONLY) == set(KNOWN_KEYS), \
        f"fields without a flag: {sorted(set(KNOWN_KEYS) - set(flagged) - set(FILE_ONLY))}"
    assert all(reason.strip() for reason in FILE_ONLY.values())
    for flag, (key, short, kind) in FLAGS.items():
        assert kind in KINDS, (flag, kind)
        assert flag.split("/")[0] == "--" + key.replace("_", "-") or key == "formats", flag  # --format: one each
        assert (kind == "switch") == ("/" in flag), flag
    shorts = [short for _, short, _ in FLAGS.values() if short]
    assert len(shorts) == len(set(shorts))


def test_every_flag_is_an_option_of_render_and_config_show():
    """Each flag of FLAGS reaches click, with the field's help; render and config show take every one."""
    from cli import config_show, render

    for command in (render, config_show):
        options = {opt: param for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for flag, (key, short, _) in FLAGS.items():
            for name in (*flag.split("/"), *([short] if short else [])):
                assert options.get(name) is not None and options[name].name == key, (command.name, name)


def test_flags_override_the_file_which_overrides_defaults(toml):
    path = toml('model = "toy"\nheads = 2\nd_model = 8\ntheme = "light"\nchapters = ["cost", "intro"]\n')
    config, sources = load_config_with_sources(path, heads=8, theme=None, formats=())
    assert (config.heads, config.d_model, config.theme) == (8, 8, "light")  # flag, file, file
    assert config.chapters == ("cost", "intro")  # the file's order is kept
    assert config.seed == LessonConfig().seed  # default
    assert sources["heads"] == "flag"
    assert sources["d_model"] == f"{path} line 3"
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
        ({"layer": 7}, "layer = 7 is out of range; pick 1 to 6 (layers are numbered from 1, as on screen) or auto"),
        ({"layer": 0}, "layer = 0 is out of range; pick 1 to 6 (layers are numbered from 1, as on screen) or auto"),
        ({"head": 13}, "head = 13 is out of range: all-MiniLM-L6-v2 has heads 1 to 12"),
        ({"model": "toy", "head": 5}, "head = 5 is out of range: the toy model has heads = 4, so heads 1 to 4"),
        ({"layer": "first"}, 'layer = "first" is not a layer number; give a whole number'),
        ({"pacing": 0}, "pacing = 0 is out of range; pick 0.1 to 4.0"),
        ({"fps": 500}, "fps = 500 is out of range; pick 1 to 120"),
        ({"heads": "four"}, 'heads = "four" is not a whole number; pick 1 to 64'),
        ({"causal": "maybe"}, 'causal = "maybe" is not true or false'),
        ({"quality": "ultra"}, "choose preview, low, medium, high or 4k (or l, m, h, k)"),
        ({"formats": ("mp4", "avi")}, '"avi" in formats = ["mp4", "avi"] is not allowed; choose mp4, webm, gif or png'),
        ({"chapters": ("intro", "epilogue")}, "unknown chapter 'epilogue'; choose from intro, one-head,"),
        ({"chapters": ("intro", "intro")}, "lists 'intro' twice"),
        ({"sentence": "   "}, 'sentence = "   " is empty'),
        ({"sentence": "word " * 120}, "sentence is 600 characters long; keep it to 500 or fewer"),
        ({"device": "tpu"}, 'device = "tpu" is not a device; choose cpu, cuda, cuda:N, mps or auto'),
        # Booleans are not numbers and numbers are not booleans.
        ({"heads": True}, "heads = true is not a whole number; pick 1 to 64"),
        ({"fps": False}, "fps = false is not a whole number; pick 1 to 120"),
        ({"pacing": True}, "pacing = true is not a number; pick 0.1 to 4.0"),
        ({"causal": 1}, "causal = 1 is not true or false"),
        ({"heads": 4.0}, "heads = 4.0 is not a whole number"),
        ({"seed": 2**64}, "seed = 18446744073709551616 is out of range; pick 0 to 4294967295"),
        ({"d_model": 100_000}, "d_model = 100000 is out of range; pick 1 to 1024"),
        ({"pixel_height": 91}, "pixel_height = 91 is odd, but H.264 needs an even height; pick 90 or 92"),
        ({"pixel_height": 145}, "pick 144 or 146"),
        ({"sentence": "Hello"}, 'sentence = "Hello" has one word, but attention needs at least two words'),
        ({"sentence": "?!"}, 'sentence = "?!" has no words'),
        ({"sentence": "Hi\u200bthere you"}, r'sentence = "Hi\u200bthere you" has invisible control characters: '
                                            "U+200B (ZERO WIDTH SPACE); remove them"),
        ({"title": "One\ttwo"}, "title = \"One\\u0009two\" has invisible control characters: U+0009"),
        ({"sentence": "Le chat 猫 dort."}, "has characters the lesson's font (DejaVu Sans) cannot draw: 猫 (U+732B); "
                                          "use Latin, Greek or Cyrillic letters"),
        ({"title": "Attention 🚀 now"}, "🚀 (U+1F680)"),
        ({"sentence": "القطة جلست"}, "right-to-left scripts are not supported yet"),
        ({"sentence": "The cat is שמח today"}, "has right-to-left characters: ש (U+05E9)"),
    ],
)
def test_bad_value_names_key_value_and_allowed(overrides, expected):
    message = error_for(**overrides)
    assert expected in message
    assert "\n" not in message and "Traceback" not in message


def test_whole_numbers_fill_float_keys_and_flags_keep_their_types(toml):
    config = load_config(toml('pacing = 1\nmodel = "toy"\nheads = 2\nd_model = 8\ncausal = true\n'))
    assert config.pacing == 1.0 and isinstance(config.pacing, float)
    assert (config.heads, config.causal) == (2, True)
    assert load_config(model="toy", pacing=1.5, heads=8, causal=False, pixel_height=144,
                       seed=2**32 - 1).seed == 2**32 - 1


def test_toml_booleans_and_numbers_do_not_mix(toml):
    assert error_for(toml("heads = true\n")).endswith("line 1: heads = true is not a whole number; pick 1 to 64")
    assert error_for(toml("causal = 1\n")).endswith("line 1: causal = 1 is not true or false")


def test_text_is_normalised_to_nfc_and_accents_are_drawable():
    decomposed = "Le cafe\u0301 est ferme\u0301."
    assert load_config(sentence=decomposed).sentence == "Le café est fermé."
    for sentence in ("Le café est fermé.", "Der Bär läuft über die Straße.", "Η γάτα κάθισε στο χαλί.",
                     "Кошка села, потому что устала.", "Hello world", "It's 3 o’clock — «ça va» ?"):
        assert load_config(sentence=sentence, title=sentence).sentence == sentence


def test_the_font_check_is_the_lesson_font():
    from scenes.lesson import fonts

    assert fonts.FONT == "DejaVu Sans"
    assert fonts.undrawable("plain ASCII, fast") == ()
    assert fonts.undrawable("猫 and 猫 and 🚀") == ("猫", "🚀")
    assert fonts.undrawable("Ελληνικά, русский, français") == ()
    assert fonts.font_file().is_file()


def test_missing_font_is_said_not_guessed(monkeypatch):
    from scenes.lesson import fonts

    monkeypatch.setattr(fonts, "FALLBACK_FILE", Path("/no/such/font.ttf"))
    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)  # no fontconfig
    fonts.font_file.cache_clear()
    fonts.font_cmap.cache_clear()
    try:
        message = error_for(sentence="Le café est fermé.")
        assert message.startswith('sentence = "Le café est fermé." has non-ASCII characters, but fontconfig')
        assert "install fontconfig" in message
        assert load_config(sentence="Plain text works.").sentence == "Plain text works."  # ASCII needs no font
    finally:
        fonts.font_file.cache_clear()
        fonts.font_cmap.cache_clear()


def test_a_family_fontconfig_substitutes_is_not_taken_for_the_font():
    from scenes.lesson import fonts

    if shutil.which("fc-match") is None:
        pytest.skip("no fontconfig")
    with pytest.raises(fonts.FontError, match="'No Such Family Xyz' is not installed"):
        fonts.font_file("No Such Family Xyz")


def test_the_names_other_modules_import_from_config_are_still_there():
    """The config's jobs live in sibling modules; ``from scenes.lesson.config import X`` keeps working for the
    names the rest of the code imports from it."""
    from scenes.lesson import config as config_module
    from scenes.lesson import config_errors

    for name in ("CHAPTER_IDS", "DEFAULT_SENTENCE", "KNOWN_KEYS", "ConfigError", "LessonConfig", "load_config",
                 "load_config_with_sources", "tomllib", "QUALITIES", "QUALITY_LETTERS", "FORMATS", "toml_value",
                 "text_from_argv", "drawable_text"):
        assert hasattr(config_module, name), name
    assert config_module.ConfigError is config_errors.ConfigError  # one class: `except ConfigError` catches all


def test_config_tokens_are_the_toy_models_tokens():
    import mha_core.embeddings
    from scenes.lesson import config as config_module

    assert config_module._TOKEN.pattern == mha_core.embeddings._TOKEN.pattern


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


def test_config_error_is_a_value_error_and_a_usage_error_on_the_command_line(toml):
    with pytest.raises(ValueError) as info:
        load_config(heads=0)
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    # scenes.lesson.config has no click: the CLI turns the error into click's usage error, in every command.
    for argv in (["config", "show", "--heads", "0"], ["inspect", "--heads", "0"],
                 ["config", "show", "--config", str(toml("heads = 0\n"))]):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 2 and "Error: " in result.output and "Usage: main " in result.output


def test_effective_config_round_trips_through_toml(toml, tmp_path):
    config = load_config(model="toy", heads=2, d_model=8, sentence='She said "hi" \\ left.', chapters="cost,intro",
                         fps=12, out=tmp_path / "lesson")
    assert load_config(toml(config.to_toml())) == config
    # A relative out is written as the absolute folder it means, so the text means it wherever it is saved.
    relative = load_config(out="media")
    assert load_config(toml(relative.to_toml())).out == Path(os.path.abspath("media"))


def test_out_in_a_file_is_relative_to_that_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "course").mkdir()
    path = tmp_path / "course" / "lesson.toml"
    path.write_text('out = "videos"\n', encoding="utf-8")
    assert load_config(path).out == tmp_path / "course" / "videos"
    assert load_config(Path("course/lesson.toml")).out == Path("course/videos")
    assert load_config(path, out=Path("here")).out == Path("here")  # a flag: the current directory's
    path.write_text('out = "/srv/lessons/a"\n', encoding="utf-8")
    assert load_config(path).out == Path("/srv/lessons/a")
    path.write_text('out = "~/lessons"\n', encoding="utf-8")
    assert load_config(path).out == Path("~/lessons").expanduser()
    shown = CliRunner().invoke(main, ["config", "show", "--config", "course/lesson.toml"])
    assert f'out = "{Path("~/lessons").expanduser()}"  # course/lesson.toml line 1' in shown.output
    path.write_text('out = "videos"\n', encoding="utf-8")
    shown = CliRunner().invoke(main, ["config", "show", "--config", "course/lesson.toml"])
    assert f'out = "{tmp_path / "course" / "videos"}"  # course/lesson.toml line 1' in shown.output


def test_a_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "lesson.toml"
    path.write_bytes("\ufeffsentence = \"Le café est fermé.\"\nmodel = \"toy\"\nheads = 2\n".encode("utf-8"))
    config, sources = load_config_with_sources(path)
    assert (config.sentence, config.heads) == ("Le café est fermé.", 2)
    assert sources["sentence"] == f"{path} line 1"
    path.write_bytes("\ufeffheads = 3\n".encode("utf-8"))
    assert error_for(path).startswith(f"{path} line 1: heads = 3 does not divide d_model = 16")


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_config_init_writes_defaults_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    path = tmp_path / "lesson.toml"
    result = runner.invoke(main, ["config", "init", str(path)])
    assert result.exit_code == 0, result.output
    assert load_config(path) == LessonConfig(out=tmp_path / "media")

    path.write_text("heads = 2\n")
    result = runner.invoke(main, ["config", "init", str(path)])
    assert result.exit_code == 2
    assert "already exists; pass --force to overwrite it" in result.output
    assert path.read_text() == "heads = 2\n"  # untouched

    result = runner.invoke(main, ["config", "init", str(path), "--force"])
    assert result.exit_code == 0
    assert load_config(path) == LessonConfig(out=tmp_path / "media")
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.toml"]  # no temp file left


def test_cli_config_init_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["config", "init"]).exit_code == 0
    assert load_config("lesson.toml") == LessonConfig()


def test_cli_config_show_merges_file_and_flags(toml):
    path = toml('heads = 2\nd_model = 8\ntheme = "light"\nmodel = "toy"\n')
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path), "--heads", "8", "-q", "l",
                                       "--chapters", "intro,cost", "--format", "webm", "--format", "mp4"])
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.output)
    assert shown["heads"] == 8 and shown["d_model"] == 8 and shown["theme"] == "light"
    assert shown["quality"] == "low" and shown["chapters"] == ["intro", "cost"] and shown["formats"] == ["webm", "mp4"]
    assert re.search(r"^heads = 8  # flag$", result.output, flags=re.M)
    assert re.search(rf"^d_model = 8  # {re.escape(str(path))} line 2$", result.output, flags=re.M)
    # What show prints is itself a config file that gives the same config (out as an absolute folder).
    effective = load_config(path, heads=8, quality="l", chapters="intro,cost", formats=("webm", "mp4"))
    assert load_config(toml(result.output, "shown.toml")) == effective.model_copy(
        update={"out": Path(os.path.abspath(effective.out))})

    as_json = CliRunner().invoke(main, ["config", "show", "--json", "--model", "toy", "--causal"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == LessonConfig(model="toy", causal=True).model_dump(mode="json")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--heads", "3", "--d-model", "8"], "heads = 3 does not divide d_model = 8; pick 1, 2, 4 or 8"),
        (["--chapters", "intro,epilogue"], "unknown chapter 'epilogue'"),
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


def test_options_of_a_model_the_lesson_does_not_use_are_refused_unless_left_at_their_defaults(tmp_path):
    with pytest.raises(ConfigError, match="heads = 8 sets up the toy model"):
        load_config(model="minilm", heads=8)
    assert load_config(model="minilm", specialization_model="toy", heads=8).heads == 8  # the toy one is used
    with pytest.raises(ConfigError, match="layer = 2 picks a MiniLM layer"):
        load_config(model="toy", layer=2)
    # A full lesson.toml lists every key at its default: switching it to the toy model is not an error.
    path = tmp_path / "lesson.toml"
    write_default_toml(path)
    path.write_text(path.read_text("utf-8").replace('model = "minilm"', 'model = "toy"', 1), "utf-8")
    assert load_config(path).model == "toy"


def test_layer_and_head_ranges_are_the_models():
    """The config checks MiniLM's layer and head numbers without loading it: the sizes must be the model's own."""
    from mha_core import load_minilm
    from mha_core.sizes import MINILM_HEADS, MINILM_LAYERS

    model = load_minilm("cpu")
    assert (model.n_layer, model.n_head) == (MINILM_LAYERS, MINILM_HEADS)
    assert (load_config(layer=MINILM_LAYERS, head=MINILM_HEADS).layer, load_config(layer="3").layer) == (6, 3)
    assert error_for(head=MINILM_HEADS + 1).startswith(f"head = {MINILM_HEADS + 1} is out of range")


# -- the author's look (issue 25): each key good and bad, from a lesson.toml, as config show reads it --------

# (lesson.toml text, the key's value as read back) for good values; (text, a piece of the one sentence) for bad.
LOOK_GOOD = [
    ('course = "Transformers 101"\n', ("course", "Transformers 101")),
    ('chapters = ["recap"]\n[outro]\nauthor = "A. Teacher"\nlink = "https://example.org"\n',
     ("chapters", ("recap", "outro"))),
    ('outro = {licence = "CC BY 4.0"}\n', ("outro", {"licence": "CC BY 4.0"})),
    ('[chapter_pacing]\ninduction = 1.2\nrecap = 1\n', ("chapter_pacing", (("induction", 1.2), ("recap", 1.0)))),
    ('voice = "none"\nchapter_pacing = {cost = 3.5}\n', ("chapter_pacing", (("cost", 3.5),))),
    ('scorm = "lean"\n', ("scorm", "lean")),
    ('scorm = true\n', ("scorm", True)),
]
LOOK_BAD = [
    ('theme = "light"\ncourse = ""\n', 'line 2: course = "" is empty'),
    ('course = 3\n', "line 1: course = 3 is not text; put it in quotes"),
    ('course = "' + "x" * 200 + '"\n', "line 1: course is 200 characters long; keep it to 120 or fewer"),
    ('theme = "dark"\n\n[outro]\nautor = "A. Teacher"\n', "line 3: outro = {autor = \"A. Teacher\"} has unknown key"),
    ('outro = {link = "my site"}\n', 'line 1: outro = {link = "my site"} has link = "my site", which has spaces'),
    ('outro = "CC BY"\n', 'line 1: outro = "CC BY" is not a table'),
    ('chapters = ["intro", "outro"]\n', 'line 1: chapters = ["intro", "outro"] lists "outro", the closing card'),
    ('chapters = ["intro", "recap"]\n[chapter_pacing]\ninductio = 1.2\n',
     "line 2: chapter_pacing = {inductio = 1.2} names chapter 'inductio', which is not one of the lesson's chapters; "
     "use intro or recap"),
    ('chapters = ["intro"]\nchapter_pacing = {induction = 1.2}\n', "names chapter 'induction', which is not one"),
    ('chapter_pacing = {induction = "slow"}\n', 'has induction = "slow", which is not a number; pick 0.1 to 4.0'),
    ('voice = "none"\nchapter_pacing = {induction = 5}\n', "has induction = 5, which is out of range; pick 0.1 to 4.0"),
    ('chapter_pacing = {induction = 2.0}\n', "sets induction to pacing 2.0, outside 0.75 to 1.5, where the voice"),
    ('chapter_pacing = 1.2\n', "line 1: chapter_pacing = 1.2 is not a table"),
    ('scorm = "slim"\n', 'line 1: scorm = "slim" is not true, false or "lean"'),
    ('scorm = 1\n', 'line 1: scorm = 1 is not true, false or "lean"'),
    ('chapter_pacing = {}\n', "line 1: chapter_pacing = {} is empty"),
]


@pytest.mark.parametrize("text, expected", LOOK_GOOD)
def test_look_keys_read_from_a_file(toml, text, expected):
    key, value = expected
    config = load_config(toml(text))
    got = getattr(config, key)
    assert (got.model_dump(exclude_none=True) if hasattr(got, "model_dump") else got) == value
    again = load_config(toml(config.to_toml(), "shown.toml"))  # config show's output reads back the same
    assert again.model_dump(exclude={"out"}) == config.model_dump(exclude={"out"})


@pytest.mark.parametrize("text, expected", LOOK_BAD)
def test_look_keys_refused_in_one_sentence_naming_the_line(toml, text, expected):
    path = toml(text)
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and expected in error[0] and str(path) in error[0], result.output
    assert "Traceback" not in result.output
