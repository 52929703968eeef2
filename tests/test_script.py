"""The words are data: script files per chapter, checked up front; an author's folder; per-chapter keys."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from scenes.lesson import script as script_module
from scenes.lesson.chapters import CHAPTER_IDS, CHAPTERS
from scenes.lesson.script import (
    NAMES,
    PAGE,
    SHARED,
    ScriptError,
    default_script,
    export_scripts,
    ids_used,
    load_scripts,
    placeholders,
)

ROOT = Path(__file__).resolve().parents[1]
ASKING = {"beat", "narrate", "words"}


# -- the default scripts and the scenes ---------------------------------------------------------------


def test_every_chapter_has_a_script_with_a_title_and_a_summary():
    scripts = load_scripts()
    assert set(scripts.files) == {*CHAPTER_IDS, SHARED, PAGE}
    for cid in CHAPTER_IDS:
        assert scripts[cid].title.strip() and scripts[cid].summary.strip(), cid
        assert scripts[cid].beats, f"{cid} says nothing"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.id)
def test_every_id_a_scene_asks_for_is_in_its_script_and_every_entry_is_used(chapter):
    script = default_script(chapter.id)
    used = ids_used(chapter.id)
    assert used["beats"] <= set(script.beats)
    assert used["screen"] <= set(script.screen)
    source = (ROOT / "scenes" / "chapters" / f"{chapter.module}.py").read_text(encoding="utf-8")
    literals = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    dead = sorted((set(script.beats) | set(script.screen)) - literals)
    assert not dead, f"{chapter.id}: entries no scene asks for: {dead}"


def test_every_shared_entry_is_used():
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "scenes").rglob("*.py"))
    shared = default_script(SHARED)
    dead = sorted(i for i in (*shared.beats, *shared.screen) if f'"{i}"' not in sources)
    assert not dead, f"shared.toml entries nothing asks for: {dead}"


def test_parts_draw_the_lesson_s_shared_words(exported):
    from scenes.parts.words import shared_text, using

    _edit(exported, SHARED, 'key-axis = "key →"', 'key-axis = "Schlüssel →"')
    assert shared_text("key-axis") == "key →"
    with using(load_scripts(exported).shared):
        assert shared_text("key-axis") == "Schlüssel →"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.id)
def test_no_chapter_passes_a_sentence_to_a_beat(chapter):
    """Scenes name their words by id: a beat, narration or on-screen words never get a sentence or an f-string."""
    source = (ROOT / "scenes" / "chapters" / f"{chapter.module}.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ASKING \
                and node.args:
            first = node.args[0]
            assert not any(isinstance(n, ast.JoinedStr) for n in ast.walk(first)), ast.unparse(node)
            for n in ast.walk(first):
                if isinstance(n, ast.Constant) and isinstance(n.value, str):
                    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n.value), ast.unparse(node)
            assert not any(isinstance(k.value, ast.Constant) and isinstance(k.value.value, str) and " " in k.value.value
                           for k in node.keywords), f"a sentence as a placeholder value: {ast.unparse(node)}"


def test_a_scene_asking_for_an_id_its_script_lacks_fails_at_load_naming_it(tmp_path, monkeypatch):
    scenes = tmp_path / "chapters"
    shutil.copytree(ROOT / "scenes" / "chapters", scenes)
    intro = scenes / "intro.py"
    intro.write_text(intro.read_text(encoding="utf-8").replace('self.beat("title-card")', 'self.beat("no-such-beat")'),
                     encoding="utf-8")
    monkeypatch.setattr(script_module, "SCENES_FOLDER", scenes)
    script_module._ids_used.cache_clear()
    try:
        with pytest.raises(ScriptError, match=r"intro scene asks for \[beats\] 'no-such-beat'.*intro\.toml lacks"):
            load_scripts()
    finally:
        script_module._ids_used.cache_clear()


def test_placeholders_are_plain_names():
    assert placeholders("{head} gives {weight} ({{literal}})") == {"head", "weight"}
    for bad in ("{0}", "{a.b}", "{a:.2f}", "{a!r}", "{"):
        with pytest.raises(ValueError):
            placeholders(bad)


def test_numbers_are_written_in_one_place():
    script = script_module.parse_script("intro", '[beats]\nx = "{w} of {n}: {s}"\n'.encode(), "t")
    assert script.beat("x", {"w": -0.314, "n": 12, "s": "text"}) == ("\u22120.31 of 12: text", None)
    with pytest.raises(ScriptError, match=r"'x' uses \{n\}"):
        script.beat("x", {"w": 1.0, "s": ""})


# -- an author's folder -----------------------------------------------------------------------------


@pytest.fixture
def exported(tmp_path) -> Path:
    folder = tmp_path / "my-scripts"
    written = export_scripts(folder)
    assert sorted(p.name for p in written) == sorted(f"{n}.toml" for n in NAMES)
    return folder


def test_exported_scripts_are_the_defaults(exported):
    default, author = load_scripts(), load_scripts(exported)
    assert {n: s.digest for n, s in default.files.items()} == {n: s.digest for n, s in author.files.items()}
    assert all(s.author for s in author.files.values())


def test_export_refuses_to_overwrite_without_force(exported):
    (exported / "intro.toml").write_text("# mine\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["script", "export", str(exported)])
    assert result.exit_code == 2 and "already exists" in result.output and "--force" in result.output
    assert (exported / "intro.toml").read_text(encoding="utf-8") == "# mine\n"
    result = CliRunner().invoke(main, ["script", "export", str(exported), "--force"])
    assert result.exit_code == 0, result.output
    assert load_scripts(exported)["intro"].digest == load_scripts()["intro"].digest


def test_a_chapter_missing_from_the_folder_keeps_the_default_words(exported):
    (exported / "cost.toml").unlink()
    scripts = load_scripts(exported)
    assert not scripts["cost"].author and scripts["intro"].author


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BAD = [
    (("intro", "adds up to {total}.", "adds up to {totl}."), r"intro\.toml: \[beats\] 'row-sums-to-one' uses \{totl\}, "
                                                             r"which the intro chapter does not provide; use \{total\}"),
    (("intro", "title-card = ", "title-kard = "), r"unknown id 'title-kard'"),
    (("cost", "[beats]\n", "[beats]\nnew-beat = \"Hello.\"\n"), r"cost\.toml: \[beats\] has unknown id 'new-beat'"),
    (("intro", "[beats]\n", "[beats\n"), r"intro\.toml line \d+, column \d+: .*not valid TOML"),
    (("intro", "title = ", "titel = "), r"intro\.toml: unknown key 'titel'"),
    (("intro", "{total}", "{total:.3f}"), r"'row-sums-to-one': \{total:\.3f\} is not a placeholder"),
]


@pytest.mark.parametrize("edit, message", BAD, ids=["placeholder", "renamed-id", "new-id", "toml", "key", "format"])
def test_a_bad_author_script_is_one_sentence_naming_file_id_and_placeholder(exported, edit, message):
    _edit(exported, *edit)
    with pytest.raises(ScriptError, match=message):
        load_scripts(exported)


def test_a_bad_author_script_exits_2_before_anything_renders(exported, tmp_path):
    _edit(exported, "intro", "adds up to {total}.", "adds up to {totl}.")
    out = tmp_path / "lesson"
    result = CliRunner().invoke(main, ["render", "intro", "--script", str(exported), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "{totl}" in result.output and "row-sums-to-one" in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("setup, message", [
    (lambda d: (d / "intro.toml").write_bytes(b"title = \"\xff\"\n"), r"line 1: the file is not UTF-8"),
    (lambda d: (d / "intro.tml.toml").write_text("", encoding="utf-8"), r"is not a script of this lesson"),
    (lambda d: shutil.rmtree(d), r"does not exist; write the default scripts there"),
    (lambda d: (d / "recap.toml").write_text("[beats]\n", encoding="utf-8"), r"recap\.toml has no title"),
], ids=["not-utf8", "unknown-file", "no-folder", "no-title"])
def test_what_else_an_author_folder_may_get_wrong(exported, setup, message):
    setup(exported)
    with pytest.raises(ScriptError, match=message):
        load_scripts(exported)


def test_a_lesson_toml_names_the_script_folder_relative_to_itself(exported):
    from scenes.lesson.config import load_config

    toml = exported.parent / "course" / "lesson.toml"
    toml.parent.mkdir()
    toml.write_text('script = "../my-scripts"\n', encoding="utf-8")
    assert load_config(toml).script.resolve() == exported.resolve()


# -- per-chapter keys ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_lesson():
    from scenes.lesson.build import build_lesson
    from scenes.lesson.config import LessonConfig

    return build_lesson(LessonConfig(model="toy", specialization_model="toy"))


def _keys(lesson, scripts=None):
    from scenes.render.pipeline import chapter_keys
    from scenes.voice import SILENT

    if scripts is not None:
        lesson = lesson.replace(scripts=scripts)
    return chapter_keys(lesson, SILENT, CHAPTER_IDS)[0]


def test_exported_words_give_the_same_keys_and_one_edited_beat_changes_one_key(toy_lesson, exported):
    before = _keys(toy_lesson)
    assert _keys(toy_lesson, load_scripts(exported)) == before
    _edit(exported, "one-head", "[beats]\n", "[beats]\n# an author's note changes the file, so its key\n")
    after = _keys(toy_lesson, load_scripts(exported))
    assert {cid for cid in CHAPTER_IDS if after[cid] != before[cid]} == {"one-head"}


def test_a_title_reaches_the_intro_s_plan_and_its_own_chapter_only(toy_lesson, exported):
    before = _keys(toy_lesson)
    _edit(exported, "cost", 'title = "What heads cost"', 'title = "The bill"')
    scripts = load_scripts(exported)
    lesson = toy_lesson.replace(scripts=scripts)
    del lesson.__dict__["plan"]  # the plan is read from the words
    after = _keys(lesson)
    assert {cid for cid in CHAPTER_IDS if after[cid] != before[cid]} == {"intro", "cost"}


def test_render_concat_computes_no_measured_heads():
    from scenes.lesson.build import build_lesson
    from scenes.lesson.config import LessonConfig
    from scenes.render.pipeline import chapter_keys
    from scenes.voice import SILENT

    lesson = build_lesson(LessonConfig(chapters=("concat",)))
    chapter_keys(lesson, SILENT, ("concat",))
    assert not {"gallery", "induction", "redundancy", "specialization", "relationships", "trap"} & set(lesson.computed())


def test_a_chapter_sees_only_what_its_key_hashes(toy_lesson):
    from scenes.lesson.build import LessonView

    view = LessonView(toy_lesson, "concat", next(c.reads for c in CHAPTERS if c.id == "concat"))
    assert view.tokens == toy_lesson.tokens  # derived from what it reads
    with pytest.raises(AttributeError, match=r"concat chapter reads lesson\.induction.*chapters\.py"):
        view.induction


# -- rendered: same words, same bytes; one edited beat, one beat spoken again ---------------------------


@pytest.mark.render
@pytest.mark.skipif(__import__("scenes.voice", fromlist=["resolve_voice"]).resolve_voice("auto").name != "joe",
                    reason="needs the joe voice ([voice] extra)")
def test_exported_words_render_the_same_bytes_and_one_edited_beat_is_spoken_again(tmp_path, exported):
    from scenes.lesson.config import LessonConfig
    from scenes.render import render_lesson

    def render(out: str, script=None):  # one render cache of the test's own, shared by its lessons
        config = LessonConfig(chapters=("concat",), pixel_height=144, fps=5, model="toy", specialization_model="toy",
                              voice="joe", out=tmp_path / out, script=script, cache=str(tmp_path / "cache"))
        return render_lesson(config, jobs=1).chapters[0]

    default, author = render("default"), render("author", exported)
    assert not default.cached and author.cached  # the exported words, unchanged, are the default's chapter
    assert default.files["mp4"].read_bytes() == author.files["mp4"].read_bytes()
    speech = tmp_path / "cache" / "speech"
    before = set(speech.iterdir())
    _edit(exported, "concat", "Concatenation lays them side by side", "Concatenation puts them next to each other")
    edited = render("author", exported)
    assert not edited.cached and len(set(speech.iterdir()) - before) == 1  # one beat synthesised, three reused
    assert [b.text for b in edited.beats if "next to each other" in b.text] and \
        [b.text for b in edited.beats][2:] == [b.text for b in default.beats][2:]
