"""Python and notebooks: one chapter as a video to play (``show``), the head explorer for any sentence (``explorer``).

    from scenes.notebook import show, explorer
    show("one-head", sentence="The dog chased the ball because it was bouncing.", quality="low")
    explorer("The scientist who reviewed the paper said it was flawed.")       # as BertViz's head_view

Jupyter (and VS Code, Colab) shows what either returns through its ``_repr_html_``; nothing here imports
IPython. In a plain script, ``show(...).save("one-head.mp4")`` and ``explorer(...).save("heads.html")``.

``show(chapter, config=None, **settings)`` renders one chapter with the settings of a lesson.toml (its path as
``config``, then the keyword settings over it: ``sentence=``, ``theme=``, ``quality=``, ``voice=``, ...) through
``render_lesson``, into a temporary lesson folder removed afterwards: the chapter stays in the render cache,
so the same call again takes seconds. It renders in this process (``jobs.run_here``), so a script needs no
``if __name__ == "__main__":`` guard; the bytes are those a render of a lesson of that one chapter writes. A
lesson.toml made for a whole lesson works as it is: its closing card (``outro``) is left out and its
``chapter_pacing`` keeps only this chapter's pacing; the chapter is numbered 1, as a lesson of one chapter numbers
it (its place in the author's order is a whole lesson's).

``explorer(sentence, config=None, **settings)`` is the lesson page's head explorer on ``sentence``: every head
of every layer of all-MiniLM-L6-v2 with its measured label (or the toy model's heads, with ``model="toy",
specialization_model="toy"``), as one self-contained HTML document shown in an iframe, so that several in one
notebook keep their own element ids and styles. It renders no video.

A bad setting raises ``ConfigError`` (``scenes.lesson.config``; ``VoiceError`` for a voice that is not
there, a kind of it), whose ``str`` is one sentence saying what to change; a chapter that fails to render
raises ``RenderError`` with where its traceback was written.
"""

from __future__ import annotations

import base64
import difflib
import html
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mha_core.sizes import or_list

from .lesson.chapters import CHAPTER_IDS
from .lesson.config import KNOWN_KEYS, ConfigError, LessonConfig, load_config
from .lesson.config_errors import unknown_key

__all__ = ["show", "explorer", "ChapterVideo", "Explorer"]

# What show() decides itself: one chapter, as mp4, into a temporary folder, no SCORM package.
_SHOW_DECIDES = ("chapters", "formats", "out", "scorm")


def show(chapter: str, config: str | Path | None = None, **settings) -> "ChapterVideo":
    """Render chapter ``chapter`` (an id of ``scenes.lesson.chapters.CHAPTER_IDS``, such as "one-head") with the
    lesson.toml at ``config`` (optional) and ``settings`` over it; see the module docstring. Raises
    ``ConfigError`` (one sentence) for a bad chapter or setting, before anything renders."""
    from .render.jobs import run_here
    from .render.pipeline import render_lesson

    if not isinstance(chapter, str) or chapter not in CHAPTER_IDS:
        close = difflib.get_close_matches(str(chapter), CHAPTER_IDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{chapter!r} is not a chapter; {hint}choose {or_list(list(CHAPTER_IDS))}", key="chapters")
    for key in settings:
        if key in _SHOW_DECIDES:
            raise ConfigError(f"{key} is not a setting of show(), which renders the one chapter it is given as "
                              "mp4 and keeps no folder; drop it, or write a lesson folder with "
                              f"render_lesson(load_config({key}=...))", key=key)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mha-explainer-show-") as folder:
        lesson_config = _config(config, settings, chapters=(chapter,), formats=("mp4",), scorm=False,
                                out=Path(folder) / "lesson", one_chapter=chapter)
        result = render_lesson(lesson_config, jobs=1, executor=run_here)
        ch = result.chapters[0]
        video = ch.files["mp4"].read_bytes()
    if result.voice.notice:
        warnings.warn(result.voice.notice, stacklevel=2)
    from .render.captions import chapter_cues, to_webvtt
    from .render.pipeline import mark_title

    page = result.lesson.scripts.page
    return ChapterVideo(
        chapter_id=ch.chapter_id, number=ch.number, title=ch.title, summary=ch.summary, mark=mark_title(ch),
        duration=ch.duration, width=result.width, height=result.height, fps=result.fps, video=video,
        captions=to_webvtt(chapter_cues(ch)), cues=tuple(chapter_cues(ch)), voice=result.voice.name,
        cached=ch.cached, seconds=round(time.perf_counter() - started, 3), config=lesson_config,
        language=page.text("language", {}), captions_label=page.text("captions-track", {}))


def explorer(sentence: str | None = None, config: str | Path | None = None, **settings) -> "Explorer":
    """The head explorer of the lesson page on ``sentence`` (None: the lesson.toml's, else the default sentence),
    with the lesson.toml at ``config`` (optional) and ``settings`` over it (``model``, ``layer``, ``head``,
    ``theme``, ``script``, ...); see the module docstring. Raises ``ConfigError`` (one sentence)."""
    from .lesson.build import build_lesson
    from .render import explorer as explorer_data

    lesson_config = _config(config, {**settings, "sentence": sentence})
    lesson = build_lesson(lesson_config)
    lesson.gallery  # noqa: B018 - MiniLM's heads of every layer on the sentence, measured (None: no trained heads)
    models = tuple(explorer_data.explorer_models(lesson))
    return Explorer(sentence=lesson_config.sentence, models=models, html=_explorer_page(lesson, models),
                    config=lesson_config)


def _config(path, settings: dict, one_chapter: str | None = None, **decided) -> LessonConfig:
    """``load_config(path, **settings, **decided)``, an unknown keyword named as a setting of this call.

    ``one_chapter``: the lesson is that chapter alone. The config is checked as written first (its chapters, its
    closing card, its ``chapter_pacing``), then made that chapter's: the whole lesson's closing card and the other
    chapters' pacing are left out, so a lesson.toml written for the whole lesson works as it is."""
    for key in settings:
        if key not in KNOWN_KEYS:
            raise ConfigError(unknown_key(key, "setting", KNOWN_KEYS), key=key)
    if one_chapter is None:
        return load_config(path, **settings, **decided)
    whole = load_config(path, **settings, **{k: v for k, v in decided.items() if k != "chapters"})
    pacing = dict(whole.chapter_pacing or ())
    kept = whole.model_dump(exclude={"chapters", "outro", "chapter_pacing"})
    return load_config(None, **kept, chapters=(one_chapter,),
                       chapter_pacing={one_chapter: pacing[one_chapter]} if one_chapter in pacing else None)


# -- what show() returns -------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ChapterVideo:
    """One rendered chapter: its mp4 (``video``, bytes) and captions (``captions``, WebVTT), shown by Jupyter
    as a ``<video>`` with the mp4 and the captions inside the page (``_repr_html_``); ``save(path)`` writes the
    mp4. Nothing of it is on disk: the render's lesson folder is gone (the chapter is in the render cache)."""

    chapter_id: str
    number: int
    title: str
    summary: str
    mark: str  # "2. One head": the chapter as the lesson's chapter marks name it
    duration: float  # seconds
    width: int
    height: int
    fps: int
    video: bytes = field(compare=False)  # H.264 + AAC mp4, with its captions as a subtitle track
    captions: str = field(compare=False)  # WebVTT, timed to the video
    cues: tuple = field(compare=False)
    voice: str  # who speaks: "joe", "espeak-ng", "none" (silent)
    cached: bool  # the chapter came from the render cache
    seconds: float  # wall time of the call
    config: LessonConfig = field(compare=False)
    language: str = "en"  # of the captions (BCP 47, the page's)
    captions_label: str = "English"

    def save(self, path: str | Path) -> Path:
        """Write the mp4 to ``path`` (a new or existing file); returns the path."""
        path = Path(path)
        path.write_bytes(self.video)
        return path

    def _repr_html_(self) -> str:
        video = base64.b64encode(self.video).decode("ascii")
        track = ""
        if self.cues:
            vtt = base64.b64encode(self.captions.encode("utf-8")).decode("ascii")
            track = (f'<track kind="captions" label="{html.escape(self.captions_label)}" '
                     f'srclang="{html.escape(self.language)}" src="data:text/vtt;base64,{vtt}" default>')
        return (f'<figure class="mha-explainer-chapter" style="margin:0">'
                f'<video controls preload="metadata" playsinline width="{self.width}" '
                f'style="max-width:100%;height:auto" aria-label="{html.escape(self.mark)}">'
                f'<source src="data:video/mp4;base64,{video}" type="video/mp4">{track}</video>'
                f'<figcaption>{html.escape(self.mark)}</figcaption></figure>')

    def __repr__(self) -> str:
        how = "from the render cache" if self.cached else "rendered"
        return (f"<ChapterVideo {self.mark} ({self.chapter_id!r}): {self.duration:.1f} s, {self.width}x{self.height} "
                f"at {self.fps} fps, voice {self.voice}, {len(self.video) / 1e6:.1f} MB mp4, {how} in "
                f"{self.seconds:.1f} s>")


# -- what explorer() returns ---------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Explorer:
    """The head explorer on one sentence: ``html`` is a self-contained page (inline CSS and JavaScript, the
    weights inside it), shown by Jupyter in an iframe of its own (``_repr_html_``); ``save(path)`` writes it.
    ``models``: what it offers (``scenes.render.explorer.ExplorerModel``: tokens, weights ``[layer, head,
    query, key]``, each head's measured label and evidence)."""

    sentence: str
    models: tuple
    html: str = field(compare=False)
    config: LessonConfig = field(compare=False)

    @property
    def tokens(self) -> tuple[str, ...]:
        """The first model's tokens (the sentence's word pieces, [CLS] and [SEP] included for MiniLM)."""
        return tuple(self.models[0].tokens)

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path``; it opens in a browser as it is, offline."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # An iframe of its own: the explorer's element ids, styles and page script stay inside it, whatever else
        # the notebook shows (another explorer, too). Its script fits the frame's height to the page.
        return (f'<iframe id="mha-explainer-explorer-{uuid.uuid4().hex}" class="mha-explainer-explorer" '
                f'title="{html.escape(self.sentence)}" srcdoc="{html.escape(self.html, quote=True)}" '
                'style="width:100%;height:640px;border:0;display:block"></iframe>')

    def __repr__(self) -> str:
        models = ", ".join(f"{m.name} ({len(m.layers)} layer{'s' * (len(m.layers) != 1)} x {m.weights.shape[1]} "
                           f"heads)" for m in self.models)
        return f"<Explorer of {self.sentence!r}: {len(self.tokens)} tokens; {models}>"


# The explorer alone as a page: the lesson page's colours and type, its explorer (templates/_explorer.*), and a
# script that fits the iframe showing it to its height.
_EXPLORER_PAGE = """<!doctype html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="{{ color_scheme }}">
<meta name="generator" content="{{ generator }}">
<title>{{ title }}</title>
<style>
{% include "_page.css" %}
  body { padding: 0.25rem; }
  h2 { font-size: 1rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 0.5rem; }
{% include "_explorer.css" %}
</style>
</head>
<body>
{% include "_explorer.html" %}
<script>
(function () {
  var frame = null;
  try { frame = window.frameElement; } catch (e) { return; }  // another origin: the frame keeps its height
  if (!frame) return;  // opened as a page of its own
  function fit() { frame.style.height = Math.ceil(document.documentElement.scrollHeight) + "px"; }
  if (window.ResizeObserver) new ResizeObserver(fit).observe(document.body);
  window.addEventListener("load", fit);
  fit();
})();
</script>
</body>
</html>
"""


def _explorer_page(lesson, models) -> str:
    import jinja2

    from . import style
    from .render.explorer import page_data
    from .render.export import template_words
    from .render.folder import GENERATOR, versions

    theme = style.look(lesson.config)
    w, words_for = template_words(lesson.scripts.page)
    env = jinja2.Environment(loader=jinja2.PackageLoader("scenes.render", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(_EXPLORER_PAGE).render(
        language=w("language"), color_scheme=lesson.config.theme, theme=theme,
        generator=f"{GENERATOR} {versions()['mha-explainer']}",
        title=f"{w('explorer-heading')}: {lesson.config.sentence}",
        explorer=page_data(list(models), theme), w=w, words_for=words_for)
