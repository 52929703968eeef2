"""The player page's words are data (scenes/scripts/page.toml): every id the templates, their JavaScript and the
head explorer ask for is there and every entry is asked for; an author's page.toml reaches the page, escaped;
a bad one is one sentence naming the file and the id (exit 2). No video is rendered: the page is made from a
Lesson's data and a folder's names, as ``export.write_lesson_folder`` would pass them."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from cli import main
from scenes.lesson.script import PAGE, ScriptError, default_script, export_scripts, load_scripts
from scenes.narration import Cue
from scenes.render import explorer, export

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "scenes" / "render" / "templates"
PYTHON = (ROOT / "scenes" / "render" / "explorer.py", ROOT / "scenes" / "render" / "export.py",
          ROOT / "scenes" / "render" / "course.py")
_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*"


# -- every id used is there, every entry is used ------------------------------------------------------------


def _template_ids() -> dict[str, dict[str, set[str]]]:
    """Per template: the ids its jinja fills (``w("id", ...)``), the ids it embeds for its script
    (``words_for("id", ...)``) and the ids its script fills (``say("id", ...)``)."""
    found = {}
    for path in sorted(TEMPLATES.glob("*.html")):
        source = path.read_text(encoding="utf-8")
        embedded = set()
        for call in re.findall(r"words_for\(([^)]*)\)", source):
            embedded |= set(re.findall(rf'"({_ID})"', call))
        found[path.name] = {"w": set(re.findall(rf'\bw\("({_ID})"', source)), "embedded": embedded,
                            "say": set(re.findall(rf'\bsay\("({_ID})"', source))}
    return found


def _python_ids() -> set[str]:
    """The page ids explorer.py, export.py and course.py ask for: the id arguments of ``.text``, ``w``, ``template`` and
    ``_note`` (and its default), and the ids in the explorer's tables of evidence sentences and headlines."""
    found = set()
    for path in PYTHON:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            strings = []
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("text", "w", "template", "_note"):
                    strings = node.args
            elif isinstance(node, ast.FunctionDef) and node.name == "_note":
                strings = node.args.defaults  # a head's headline without a label
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("_SHARE_EVIDENCE", "_INDUCTION_EVIDENCE", "_HEADLINE_IDS")
                                                      for t in node.targets):
                strings = [s for d in ast.walk(node.value) if isinstance(d, ast.Dict) for v in d.values
                           for s in ast.walk(v)]  # the ids are the values; the keys are labels
            found |= {s.value for s in strings if isinstance(s, ast.Constant) and isinstance(s.value, str)
                      and re.fullmatch(_ID, s.value)}
    return found


def test_every_id_the_page_asks_for_is_in_page_toml():
    page = default_script(PAGE)
    ids = set(page.screen)
    for name, used in _template_ids().items():
        for kind, wanted in used.items():
            assert wanted <= ids, f"{name} asks for {kind} ids page.toml lacks: {sorted(wanted - ids)}"
        # its script fills only words the template embeds for it (the JSON next to it), never English of its own
        unembedded = sorted(used["say"] - used["embedded"])
        assert not unembedded, f"{name}: its script says ids the page does not embed for it: {unembedded}"
    python = _python_ids()
    assert python and python <= ids, f"explorer.py/export.py ask for ids page.toml lacks: {sorted(python - ids)}"


def test_every_page_toml_entry_is_used():
    used = set(_python_ids())
    for ids in _template_ids().values():
        used |= ids["w"] | ids["embedded"]
    dead = sorted(set(default_script(PAGE).screen) - used)
    assert not dead, f"page.toml entries nothing asks for: {dead}"


def test_the_page_script_has_only_screen_words():
    page = default_script(PAGE)
    assert page.screen and not page.beats and not page.title
    with pytest.raises(ScriptError, match=r"page\.toml: unknown key 'beats'; a script holds screen"):
        from scenes.lesson.script import parse_script

        parse_script(PAGE, b'[beats]\nx = "y"\n', "my/page.toml")


# -- the page, made from a Lesson (no video) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_lesson(lesson_for):
    return lesson_for(model="toy", specialization_model="toy")


def render(lesson, template: str = "index.html", formats=("mp4", "webm")) -> str:
    """The page of a two-chapter lesson folder holding ``formats``, as ``write_lesson_folder`` passes it."""
    chapters, start = [], 0.0
    for number, cid in enumerate(("intro", "concat"), 1):
        stem = f"{number:02d}-{cid}"
        chapters.append({
            "number": number, "id": cid, "title": lesson.scripts.title(cid), "summary": lesson.scripts[cid].summary,
            "start": start, "end": start + 10.0, "duration": 10.0, "frame": None,
            "videos": {fmt: f"chapters/{stem}.{fmt}" for fmt in formats},
            "captions": {"vtt": f"chapters/{stem}.vtt", "srt": f"chapters/{stem}.srt"},
            "thumbnail": f"thumbs/{stem}.png", "cues": [],
            "beats": [SimpleNamespace(start=0.0, text=f"The {cid} chapter begins."),
                      SimpleNamespace(start=4.0, text="And goes on.")],
        })
        start += 10.0
    info = {
        "lesson_videos": {fmt: f"lesson.{fmt}" for fmt in formats}, "chapters": chapters,
        "captions": {"vtt": "captions.vtt", "srt": "captions.srt", "chapters": "chapters.vtt"},
        "poster": "poster.png", "lesson_cues": [Cue(0.0, 2.0, "Hello.")],
        "chapter_track": [Cue(0.0, 10.0, "1. Intro"), Cue(10.0, 20.0, "2. Concat")], "duration": 20.0,
        "tensor_files": ["trace.safetensors"], "explorer": explorer.explorer_models(lesson),
    }
    result = SimpleNamespace(config=lesson.config, lesson=lesson, fps=30, width=1280, height=720)
    return export.render_page(result, info, template=template)


def _embedded(page: str, element_id: str):
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


@pytest.fixture
def exported(tmp_path) -> Path:
    folder = tmp_path / "my-scripts"
    assert folder / "page.toml" in export_scripts(folder)
    return folder


def _edit(folder: Path, entry: str, words: str) -> None:
    path = folder / "page.toml"
    text = path.read_text(encoding="utf-8")
    line = re.search(rf"^{entry} = .*$", text, re.M)
    assert line, entry
    path.write_text(text.replace(line.group(0), f"{entry} = {json.dumps(words, ensure_ascii=False)}", 1),
                    encoding="utf-8")


def test_the_default_words_make_the_page(toy_lesson):
    page = render(toy_lesson)
    text = html.unescape(page)
    for words in ("Present beat by beat", "Explore the heads", "Transcript and files", "Captions (WebVTT)",
                  "Chapter 2, " + toy_lesson.scripts.title("concat") + ":", "Lesson video (mp4)",
                  "d_model = ", "Made with ", 'Download it</a>.'):
        assert words in text, words
    assert _embedded(page, "page-words") == {"present-where": default_script(PAGE).template("present-where")}
    models = _embedded(page, "explorer-data")["models"]
    assert models[0]["name"] == "toy model" and models[0]["notes"][0][0]["headline"] == "untrained"
    assert "Your browser cannot play this video here." in render(toy_lesson, "embed.html")


def test_an_author_s_changed_words_reach_the_page_escaped(toy_lesson, exported):
    _edit(exported, "present-button", "Beat für Beat zeigen")
    _edit(exported, "headline-untrained", "untrainiert")  # the explorer's data
    _edit(exported, "explorer-grid-axis", "Anfrage ↓ Schlüssel →")  # what its script writes
    _edit(exported, "present-where", "Kapitel {number} </script><b>{title}</b>")  # into the JSON, safely
    _edit(exported, "footer", "Gemacht mit <{generator}> & mehr.")
    _edit(exported, "video-fallback", "Hier spielt das Video nicht: {download}!")
    _edit(exported, "language", "de")
    lesson = toy_lesson.replace(scripts=load_scripts(exported))
    page = render(lesson)

    assert '<html lang="de">' in page and 'kind="captions" label="English" srclang="de"' in page

    assert ">Beat für Beat zeigen</button>" in page and "Present beat by beat" not in page
    assert all(n["headline"] == "untrainiert" for row in _embedded(page, "explorer-data")["models"][0]["notes"]
               for n in row)
    assert _embedded(page, "explorer-words")["explorer-grid-axis"] == "Anfrage ↓ Schlüssel →"
    assert "</script><b>" not in page  # tojson escapes < and >
    assert _embedded(page, "page-words")["present-where"] == "Kapitel {number} </script><b>{title}</b>"
    assert "<footer>Gemacht mit &lt;mha-explainer " in page and "&gt; &amp; mehr.</footer>" in page
    assert re.search(r'<p>Hier spielt das Video nicht: <a href="lesson\.mp4">Download it</a>!</p>', page)
    # The video alone: the same words.
    assert "Hier spielt das Video nicht:" in render(lesson, "embed.html")


def test_an_author_s_words_reach_the_explorer_s_sentences(toy_lesson, exported):
    _edit(exported, "model-toy-about", "Das Spielzeugmodell (Seed {seed}).")
    _edit(exported, "evidence-untrained", "Zufällige Gewichte: nichts gemessen.")
    lesson = toy_lesson.replace(scripts=load_scripts(exported))
    toy = next(m for m in explorer.explorer_models(lesson) if m.id == "toy")
    assert toy.about == f"Das Spielzeugmodell (Seed {lesson.config.seed})."
    assert {n.evidence for row in toy.heads for n in row} == {"Zufällige Gewichte: nichts gemessen."}


def test_the_manifest_records_the_page_words(exported):
    assert load_scripts().record()[PAGE] == {"sha256": default_script(PAGE).digest, "from": "default"}
    _edit(exported, "transcript", "Mitschrift")
    assert load_scripts(exported).record()[PAGE]["from"] == "author"


# -- a bad page.toml: one sentence naming the file and the id, exit 2 -------------------------------------------


def test_an_unknown_placeholder_is_one_sentence_naming_file_and_id(exported):
    _edit(exported, "present-button", "Present at {speed}")
    with pytest.raises(ScriptError, match=r"my-scripts/page\.toml: \[screen\] 'present-button' uses \{speed\}, which "
                                          r"the player page does not provide; this entry has no placeholder"):
        load_scripts(exported)
    _edit(exported, "present-button", "Present beat by beat")
    _edit(exported, "fact-heads", "h = {heads}")
    with pytest.raises(ScriptError, match=r"page\.toml: \[screen\] 'fact-heads' uses \{heads\}.*use \{n_head\}"):
        load_scripts(exported)


def test_a_bad_page_toml_exits_2_before_anything_renders(exported):
    _edit(exported, "explorer-head-option", "Head {head}: {labels}")
    result = CliRunner().invoke(main, ["chapters", "--script", str(exported)])
    assert result.exit_code == 2, result.output
    assert "page.toml" in result.output and "explorer-head-option" in result.output and "{labels}" in result.output
    assert "Traceback" not in result.output


def test_the_page_s_words_render_no_chapter_but_write_the_folder_again(toy_lesson, exported):
    """page.toml reaches no frame or sound: no chapter key changes; the folder (the page) is written again."""
    from scenes.lesson.chapters import CHAPTER_IDS
    from scenes.render.keys import folder_key
    from scenes.render.pipeline import chapter_keys
    from scenes.voice import SILENT

    _edit(exported, "present-button", "Vorführen")
    theirs = toy_lesson.replace(scripts=load_scripts(exported))
    assert chapter_keys(theirs, SILENT, CHAPTER_IDS)[0] == chapter_keys(toy_lesson, SILENT, CHAPTER_IDS)[0]
    config = toy_lesson.config
    assert folder_key(config, "code", SILENT, theirs.scripts) != folder_key(config, "code", SILENT, toy_lesson.scripts)
