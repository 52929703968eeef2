"""Python and notebooks (scenes/notebook.py): ``show()`` renders a chapter that Jupyter plays, ``explorer()`` the head
explorer for any sentence, both from a plain script without ``if __name__ == "__main__":``; and ``render_lesson``
called at a script's top level is refused in one sentence instead of breaking its process pool (render/jobs.py).

One plain script runs once for the module (a subprocess, as a user runs it): a chapter at 256x144, 5 fps, silent,
twice (the second from the render cache), two explorers, the bad settings; the tests read what it wrote.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(model="toy", specialization_model="toy", pixel_height=144, fps=5, voice="none", pacing=0.5)
CHAPTER = "concat"
SENTENCES = ("The cat sat down because it was tired.", "A dog chased the ball across the wet grass.")

# No main guard, on purpose: show() and explorer() run at the top level, as in a notebook's cells.
SCRIPT = """
import json, sys, time
from pathlib import Path

from scenes.lesson.config import ConfigError, load_config
from scenes.notebook import explorer, show
from scenes.render import render_lesson
from scenes.render.jobs import MainGuardError, unguarded_main_call

out = Path(sys.argv[1])
SETTINGS, CHAPTER, SENTENCES = {settings!r}, {chapter!r}, {sentences!r}
found = {{}}

started = time.perf_counter()
first = show(CHAPTER, **SETTINGS)
found["first_seconds"] = time.perf_counter() - started
started = time.perf_counter()
again = show(CHAPTER, **SETTINGS)
found["again_seconds"] = time.perf_counter() - started
first.save(out / "chapter.mp4")
(out / "video.html").write_text(first._repr_html_(), encoding="utf-8")
found.update(first_repr=repr(first), again_repr=repr(again), first_cached=first.cached, again_cached=again.cached,
             same_bytes=first.video == again.video, duration=first.duration, captions=first.captions)

for i, sentence in enumerate(SENTENCES):
    e = explorer(sentence, model="toy", specialization_model="toy")
    (out / f"explorer-{{i}}.html").write_text(e._repr_html_(), encoding="utf-8")
    (out / f"explorer-{{i}}-page.html").write_text(e.html, encoding="utf-8")
    found[f"explorer_{{i}}"] = {{"repr": repr(e), "tokens": list(e.tokens), "models": [m.id for m in e.models]}}

errors = {{}}
for name, call in [
    ("heads", lambda: show(CHAPTER, **{{**SETTINGS, "heads": 3}})),
    ("chapter", lambda: show("one-haed", **SETTINGS)),
    ("unknown", lambda: show(CHAPTER, colour="red", **SETTINGS)),
    ("out", lambda: show(CHAPTER, out="somewhere", **SETTINGS)),
    ("sentence", lambda: explorer("Hello", model="toy", specialization_model="toy")),
]:
    try:
        call()
        errors[name] = None
    except ConfigError as err:
        errors[name] = str(err)
found["errors"] = errors

# The guard check: a call at the top level is found, one under the main guard is not.
found["top_level"] = unguarded_main_call()
if __name__ == "__main__":
    found["guarded"] = unguarded_main_call()
try:  # a render that would spawn workers from the top level of this script: refused before they start
    render_lesson(load_config(chapters=(CHAPTER,), out=out / "refused", **SETTINGS), use_cache=False)
    found["refused"] = None
except MainGuardError as err:
    found["refused"] = str(err)
found["refused_folder_left"] = (out / "refused").exists()
(out / "found.json").write_text(json.dumps(found), encoding="utf-8")
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The plain script, run once in a fresh Python process: (its folder, what it found)."""
    folder = tmp_path_factory.mktemp("notebook")
    script = folder / "plain_script.py"
    # A render cache of its own (no other test's chapter is a hit: the first show() renders); the measurements go
    # where this test session keeps them (conftest), not to ~/.cache.
    settings = {**SETTINGS, "cache": str(folder / "render-cache")}
    script.write_text(SCRIPT.format(settings=settings, chapter=CHAPTER, sentences=SENTENCES), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(script), str(folder)], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "BrokenProcessPool" not in done.stderr
    return folder, json.loads((folder / "found.json").read_text(encoding="utf-8"))


def one_sentence(message: str) -> bool:
    return "\n" not in message and "Traceback" not in message and len(re.findall(r"[.!?](?:\s|$)", message)) <= 1


@pytest.mark.render
def test_show_plays_the_chapter_in_a_video_element(run):
    folder, found = run
    page = (folder / "video.html").read_text(encoding="utf-8")
    assert re.search(r"<video\b[^>]*\bcontrols\b", page)
    video = base64.b64decode(re.search(r'src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', page).group(1))
    assert video[4:8] == b"ftyp"  # an mp4 starts with its ftyp box
    assert video == (folder / "chapter.mp4").read_bytes()  # save() writes the same bytes
    from scenes.render import media

    info = media.probe(folder / "chapter.mp4")
    assert (info.width, info.height, info.fps) == (256, 144, 5)
    assert info.duration == pytest.approx(found["duration"], abs=0.25)
    # The captions ride along as a WebVTT track inside the page.
    vtt = base64.b64decode(re.search(r'<track kind="captions"[^>]*src="data:text/vtt;base64,([A-Za-z0-9+/=]+)"',
                                     page).group(1)).decode("utf-8")
    assert vtt == found["captions"] and vtt.startswith("WEBVTT") and "-->" in vtt
    assert "Concatenate the heads" in page and "Concatenate the heads" in found["first_repr"]


@pytest.mark.render
def test_show_again_comes_from_the_render_cache(run):
    _, found = run
    assert not found["first_cached"] and found["again_cached"] and found["same_bytes"]
    assert "from the render cache" in found["again_repr"]


@pytest.mark.render
def test_explorer_is_a_self_contained_page_with_the_sentence_s_tokens(run):
    folder, found = run
    frames = [(folder / f"explorer-{i}.html").read_text(encoding="utf-8") for i in range(len(SENTENCES))]
    for i, (sentence, frame) in enumerate(zip(SENTENCES, frames)):
        tokens = found[f"explorer_{i}"]["tokens"]
        assert found[f"explorer_{i}"]["models"] == ["toy"]
        assert " ".join(tokens[:-1]) == sentence[:-1].rstrip() and tokens[-1] == "."  # the toy model's words
        page = html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
        assert page == (folder / f"explorer-{i}-page.html").read_text(encoding="utf-8")
        assert all(json.dumps(t) in page for t in tokens)  # the explorer's data: every token
        # Self-contained: no file, no network.
        assert not re.search(r"<link\b|<script\b[^>]*\bsrc=|<img\b|\burl\(|https?://", page)
    ids = [re.search(r'<iframe id="([^"]+)"', frame).group(1) for frame in frames]
    assert len(set(ids)) == len(ids)  # each shown in its own frame: no id is shared with another


@pytest.mark.render
def test_bad_settings_raise_one_sentence(run):
    _, found = run
    errors = found["errors"]
    assert all(errors.values()), errors  # each raised ConfigError
    assert all(one_sentence(message) for message in errors.values()), errors
    assert "heads = 3" in errors["heads"] and "d_model" in errors["heads"]
    assert "did you mean 'one-head'" in errors["chapter"]
    assert "colour" in errors["unknown"] and "setting" in errors["unknown"]
    assert "render_lesson" in errors["out"]
    assert "sentence" in errors["sentence"] and "word" in errors["sentence"]


@pytest.mark.render
def test_render_lesson_at_a_script_s_top_level_is_refused_in_one_sentence(run):
    """Its workers would run the script again (spawn) and die (BrokenProcessPool): refused before they start,
    and the folder it would have written is not left behind."""
    folder, found = run
    script = folder / "plain_script.py"
    assert found["top_level"].startswith(f"{script} line ") and "guarded" in found and found["guarded"] is None
    refused = found["refused"]
    assert refused and one_sentence(refused), refused
    assert str(script) in refused and 'if __name__ == "__main__":' in refused and "run_here" in refused
    assert not found["refused_folder_left"]


@pytest.mark.render
@pytest.mark.browser
def test_a_notebook_page_plays_the_video_and_runs_two_explorers(run, browser):
    """Two explorers and the video on one page, as a notebook shows them: each explorer runs in its own frame,
    fitted to its height, and the video plays with its captions."""
    from browser import severe_errors

    folder, found = run
    page = folder / "notebook.html"
    page.write_text("<!doctype html><meta charset='utf-8'><body>" + "".join(
        (folder / name).read_text(encoding="utf-8") for name in ("explorer-0.html", "video.html", "explorer-1.html")),
        encoding="utf-8")
    browser.get(page.as_uri())
    state = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const v = document.querySelector('video');
        const report = () => done({ready: v.readyState, duration: v.duration, error: v.error && v.error.code,
                                   tracks: v.textTracks.length});
        if (v.readyState >= 1 || v.error) report();
        else { v.addEventListener('loadedmetadata', report, {once: true}); v.addEventListener('error', report); }
    """)
    assert state["error"] is None and state["ready"] >= 1 and state["tracks"] == 1, state
    assert state["duration"] == pytest.approx(found["duration"], abs=0.25)
    frames = browser.find_elements("css selector", "iframe.mha-explainer-explorer")
    assert len(frames) == 2
    for i, frame in enumerate(frames):
        browser.switch_to.frame(frame)
        try:
            buttons = browser.execute_script(
                "return Array.from(document.querySelectorAll('#ex-tokens button'), b => b.textContent)")
            cells = browser.execute_script("return document.querySelectorAll('#ex-rows td').length")
            height = browser.execute_script("return document.documentElement.scrollHeight")
        finally:
            browser.switch_to.default_content()
        assert buttons == found[f"explorer_{i}"]["tokens"] and cells > 0
        assert abs(frame.size["height"] - height) <= 2  # the frame fits its page: nothing cut off, no scrollbar
    assert not severe_errors(browser)


@pytest.mark.slow
def test_explorer_of_a_new_sentence_shows_minilm_s_measured_heads():
    """The default: all-MiniLM-L6-v2's 6 layers x 12 heads on the sentence, each head with its measured label."""
    from scenes.notebook import explorer

    sentence = "The scientist who reviewed the paper said it was flawed."
    e = explorer(sentence)
    assert [m.id for m in e.models] == ["minilm"]
    m = e.models[0]
    assert e.tokens[0] == "[CLS]" and e.tokens[-1] == "[SEP]" and "scientist" in e.tokens
    assert tuple(m.weights.shape) == (6, 12, len(e.tokens), len(e.tokens))
    assert all(note.headline for row in m.heads for note in row)
    assert all(json.dumps(t) in e.html for t in e.tokens)
    assert "all-MiniLM-L6-v2" in repr(e) and "6 layers x 12 heads" in repr(e)


def test_show_takes_a_whole_lessons_toml_as_it_is(tmp_path):
    """A lesson.toml written for the whole lesson (its closing card, another chapter's pacing) gives show() that
    one chapter: checked as written, then without the closing card, with this chapter's own pacing only."""
    from scenes.lesson.config import ConfigError
    from scenes.notebook import _config

    toml = tmp_path / "lesson.toml"
    toml.write_text('chapters = ["intro", "concat", "induction"]\noutro = {author = "A. Teacher"}\n'
                    'chapter_pacing = {induction = 1.2, concat = 0.9}\n', "utf-8")
    decided = {"chapters": ("concat",), "formats": ("mp4",), "scorm": False, "out": tmp_path / "lesson"}
    concat = _config(toml, {}, one_chapter="concat", **decided)
    assert concat.chapters == ("concat",) and concat.outro is None and concat.chapter_pacing == (("concat", 0.9),)
    intro = _config(toml, {"theme": "light"}, one_chapter="intro", **{**decided, "chapters": ("intro",)})
    assert intro.chapters == ("intro",) and intro.chapter_pacing is None and intro.theme == "light"
    toml.write_text('chapters = ["intro"]\nchapter_pacing = {induction = 1.2}\n', "utf-8")
    with pytest.raises(ConfigError, match="names chapter 'induction', which is not one of the lesson's chapters"):
        _config(toml, {}, one_chapter="intro", **{**decided, "chapters": ("intro",)})  # still checked as written
