"""The lesson folder: what a course author uploads next to the rendered videos.

``write_lesson_folder(result, staging)`` runs inside ``pipeline.render_lesson``
once the videos (``lesson.mp4``, ``chapters/NN-id.mp4``, ...) are in the staging
folder, and adds there:

    captions.vtt, captions.srt   captions of every chapter, timed to the joined video's speech
    transcript.json              every beat: what the captions show and what the voice says, when
    chapters.vtt                 one cue per chapter (a <track kind="chapters">)
    chapters/NN-id.vtt, .srt     each chapter's captions, timed to its own video
    poster.png, thumbs/NN-id.png each chapter's fullest settled frame, as the render kept it
    trace.safetensors            the tensors behind the video (+ copies, specialization, analysis)
    heads.safetensors            every MiniLM head's attention on the sentence, and induction.safetensors:
                                 the head explorer's weights [layer, head, query, key] (``explorer``)
    manifest.json                config, versions, chapter times, durations, sha256 of every file, tensor summary
    index.html                   a player page that needs no server and no network
    embed.html                   the video with its captions and chapters alone, for an iframe
    lesson-scorm.zip             with ``scorm``: the folder as a SCORM 1.2 package for an LMS (``scorm``); with
                                 ``scorm = "lean"`` the lesson video, its captions and a page of its own only

The render then moves the whole staging folder into ``result.out`` in one commit
(``folder``), so a failure leaves the previous folder as it was.
"""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path
from urllib.parse import quote

import av
import torch

from mha_core.files import sha256_file

from ..lesson.config import WHERE_KEYS
from ..narration import Cue
from . import explorer, scorm
from .captions import chapter_cues, to_srt, to_webvtt
from .folder import FOLDER_FORMAT, GENERATOR, MANIFEST, versions

VIDEO_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}  # what a <video> plays, in the order offered
PLAYABLE = ("mp4", "webm", "gif")  # chapter files whose duration is measured, best first
THUMB_WIDTH = 320
POSTER_CHAPTERS = ("parallel-heads", "one-head", "intro")  # the poster shows the first of these rendered
TRANSCRIPT = "transcript.json"
EMBED = "embed.html"  # the video alone, for an iframe in a course page


class ExportError(RuntimeError):
    """The lesson folder could not be written (one sentence)."""


# -- the folder ------------------------------------------------------------------------


def chapter_stem(chapter_id: str, number: int) -> str:
    """Base name of a chapter's files: its number (its place in the lesson's ``chapters``, from 1) and its id,
    "02-one-head"; ``chapters = ["recap", "concat"]`` writes 01-recap and 02-concat."""
    return f"{number:02d}-{chapter_id}"


def planned_names(config) -> set[str]:
    """Every file a render of ``config`` may write into the lesson folder (checked before it
    renders, so that a file the tool did not write is found before minutes of work)."""
    videos = [fmt for fmt in config.formats if fmt != "png"]
    names = {MANIFEST, "index.html", EMBED, "captions.vtt", "captions.srt", "chapters.vtt", "poster.png", TRANSCRIPT,
             *(f"lesson.{fmt}" for fmt in videos), *TENSOR_FILES}
    for cid in config.chapters:
        stem = chapter_stem(cid, config.chapter_number(cid))
        names |= {f"chapters/{stem}.{fmt}" for fmt in config.formats}
        names |= {f"chapters/{stem}.vtt", f"chapters/{stem}.srt", f"thumbs/{stem}.png"}
    if config.scorm:
        names.add(scorm.PACKAGE)
    return names


def write_lesson_folder(result, staging: Path) -> list[str]:
    """Write captions, frames, tensors, manifest and player page into ``staging``, next to the
    rendered videos; returns the names (relative) of every file of the folder, videos included.

    ``result`` is a ``pipeline.RenderResult``: ``out`` (the lesson folder the files will be
    moved into), ``config``, ``lesson``, ``chapters`` (each with ``chapter_id``, ``number``,
    ``title``, ``summary``, ``files``, ``start``, ``duration``, ``cues``), ``lesson_files``,
    ``width``, ``height``, ``fps``. Its file paths are the final ones, under ``result.out``; the
    files themselves are under ``staging`` with the same relative names.
    """
    root = Path(result.out)
    staging = Path(staging)
    _check_inputs(result, root, staging)
    return _write_all(result, root, _Staging(staging))


def _check_inputs(result, root: Path, staging: Path) -> None:
    if not result.chapters:
        raise ExportError("no chapters were rendered; nothing to export")
    for path in [*result.lesson_files.values(), *(p for ch in result.chapters for p in ch.files.values())]:
        path = Path(path)
        if not path.is_relative_to(root):
            raise ExportError(f"rendered file {path} is outside the output folder {root}")
        if not (staging / path.relative_to(root)).is_file():
            raise ExportError(f"rendered file {path} is missing; render again")


class _Staging:
    """The folder files are written to first, under their final relative names."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        self.names.append(name)
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def put(self, name: str, data: bytes | str) -> str:
        self.path(name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return name


TENSOR_FILES = ("trace.safetensors", "copies.safetensors", "specialization.safetensors", "analysis.safetensors",
                explorer.HEADS_FILE, explorer.INDUCTION_FILE)


def _write_all(result, root: Path, staging: _Staging) -> list[str]:
    """Write every file into ``staging``; return the names of the folder's files (relative)."""
    from mha_core.files import save_safetensors

    lesson_videos, chapters, infos = _measure(result, root, staging.folder)
    lesson_cues = result.lesson_cues()
    chapter_track = [Cue(start, end, title) for start, end, title in result.chapter_marks()]
    captions = _write_captions(chapters, lesson_cues, chapter_track, staging)
    staging.put(TRANSCRIPT, json.dumps(result.lesson_beats(), indent=1, ensure_ascii=False) + "\n")
    poster = _write_frames(chapters, staging)
    tensor_files = {}
    models = explorer.explorer_models(result.lesson)
    for name, tensors in lesson_tensors(result.lesson, models).items():
        if isinstance(tensors, tuple):  # (tensors, metadata)
            tensors, metadata = tensors
            save_safetensors(tensors, staging.path(name), metadata)
        elif isinstance(tensors, dict):
            save_safetensors(tensors, staging.path(name))
        else:  # an AttentionTrace: its own writer keeps the tokens and the convention in the metadata
            tensors.save(staging.path(name))
            tensors = tensors.tensors()
        tensor_files[name] = tensor_summary(tensors)
    info = {
        "lesson_videos": lesson_videos,
        "chapters": chapters,
        "captions": captions,
        "poster": poster,
        "lesson_cues": lesson_cues,
        "chapter_track": chapter_track,
        "duration": _lesson_duration(lesson_videos, infos, chapters),
        "tensor_files": list(tensor_files),
        "explorer": models,
    }
    staging.put("index.html", render_page(result, info))
    staging.put(EMBED, render_page(result, info, template=EMBED))
    if result.config.scorm == "lean":
        # The lean package: the joined video, its captions and a page that links nothing left out (see scorm.py).
        scorm.write_package(staging, lean_names(info), result.config,
                            {scorm.SCO: render_page(result, info, lean=True).encode("utf-8")})
    manifest = build_manifest(result, staging, info, infos, tensor_files)
    if result.config.scorm is True:
        # The package carries the folder with this manifest (which cannot list the package it is in);
        # the folder's manifest, made again after it, lists the package too (see scorm.py).
        staging.put(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        scorm.write_package(staging, {*staging.names, *manifest["files"]}, result.config)
        manifest = build_manifest(result, staging, info, infos, tensor_files)
    staging.put(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return sorted({*staging.names, *manifest["files"]})


def lean_names(info: dict) -> list[str]:
    """The files of the lean SCORM package besides imsmanifest.xml: the page, the joined videos it plays (its gif
    when there is no video), the poster it shows before playing, the captions and the chapters track."""
    videos = [name for fmt, name in info["lesson_videos"].items() if fmt in VIDEO_TYPES]
    if not videos and "gif" in info["lesson_videos"]:
        videos = [info["lesson_videos"]["gif"]]
    return sorted({"index.html", *videos, info["poster"], *info["captions"].values()})


def _measure(result, root: Path, staged: Path):
    """Each chapter's record for the page and the manifest (names of its files, times, durations
    read from the staged videos), built once and only read after."""
    rel = lambda path: Path(path).relative_to(root).as_posix()  # noqa: E731
    lesson_videos = {fmt: rel(p) for fmt, p in result.lesson_files.items()}
    chapters = [(ch, {fmt: rel(p) for fmt, p in ch.files.items()}) for ch in result.chapters]
    names = [*lesson_videos.values(), *(n for _, videos in chapters for n in videos.values())]
    infos = {n: probe_video(staged / n) for n in names if not n.endswith(".png")}
    measured = []
    for ch, videos in chapters:
        playable = [videos[f] for f in PLAYABLE if f in videos]
        stem = chapter_stem(ch.chapter_id, ch.number)
        measured.append(
            {
                "number": ch.number,
                "id": ch.chapter_id,
                "title": ch.title,
                "summary": ch.summary,
                # start/end are the chapter marks in the joined video; duration is measured
                "start": round(float(ch.start), 3),
                "end": round(float(ch.start + ch.duration), 3),
                "duration": round(infos[playable[0]].duration if playable else float(ch.duration), 3),
                "videos": videos,
                "frame": ch.frame,
                "captions": {"vtt": f"chapters/{stem}.vtt", "srt": f"chapters/{stem}.srt"},
                "thumbnail": f"thumbs/{stem}.png",
                "cues": chapter_cues(ch),
                "beats": ch.beats,
            }
        )
    return lesson_videos, measured, infos


def _write_captions(chapters: list[dict], lesson_cues, chapter_track, staging: _Staging) -> dict:
    """The joined video's captions (VTT, SRT), its chapter track, and each chapter's own captions."""
    captions = {
        "vtt": staging.put("captions.vtt", to_webvtt(lesson_cues)),
        "srt": staging.put("captions.srt", to_srt(lesson_cues)),
        "chapters": staging.put("chapters.vtt", to_webvtt(chapter_track)),
    }
    for c in chapters:
        staging.put(c["captions"]["vtt"], to_webvtt(c["cues"]))
        staging.put(c["captions"]["srt"], to_srt(c["cues"]))
    return captions


def _write_frames(chapters: list[dict], staging: _Staging) -> str:
    """A thumbnail per chapter (its fullest settled frame, kept by the render) and the poster;
    returns the poster's name."""
    frames = {}
    for c in chapters:
        try:
            with av.open(str(c["frame"])) as image:
                frames[c["id"]] = next(image.decode(video=0))
        except (av.FFmpegError, OSError, StopIteration) as err:
            raise ExportError(f"cannot read the frame {c['frame']} of chapter {c['id']} ({err}); "
                              "render again with --no-cache") from None
        staging.put(c["thumbnail"], png_bytes(frames[c["id"]], width=THUMB_WIDTH))
    poster_id = next((cid for cid in POSTER_CHAPTERS if cid in frames), chapters[0]["id"])
    return staging.put("poster.png", png_bytes(frames[poster_id]))


def _lesson_duration(lesson_videos: dict, infos: dict, chapters: list) -> float:
    for fmt in ("mp4", "webm", "gif"):
        if fmt in lesson_videos:
            return round(infos[lesson_videos[fmt]].duration, 3)
    return round(chapters[-1]["end"], 3)


# -- videos and frames ---------------------------------------------------------------------


def probe_video(path: Path):
    """``media.probe`` (duration from the frames' timestamps: a held frame is one frame shown long; chapter
    marks), with a one-sentence error."""
    from .media import probe

    try:
        return probe(path)
    except (av.FFmpegError, IndexError) as err:
        raise ExportError(f"cannot read the video {path} ({err}); render again") from None


def png_bytes(frame: av.VideoFrame, width: int | None = None) -> bytes:
    """A frame as PNG bytes (scaled to ``width``, keeping its aspect ratio)."""
    if width and frame.width > width:
        height = round(frame.height * width / frame.width / 2) * 2
        frame = frame.reformat(width=width, height=height, format="rgb24")
    else:
        frame = frame.reformat(format="rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, "rgb24"
    return b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])


# -- tensors -------------------------------------------------------------------------------


def lesson_tensors(lesson, models) -> dict[str, object]:
    """File name -> an AttentionTrace, a dict of tensors, or (tensors, metadata): everything the chapters draw
    numbers from, and the files of the head explorer's ``models`` (``explorer.explorer_models``)."""
    files = {"trace.safetensors": lesson.trace, "copies.safetensors": lesson.copies}
    special = lesson.specialization.trace if "specialization" in lesson.computed() else lesson.trace
    if not _same_trace(special, lesson.trace):  # e.g. trained MiniLM heads next to a toy model
        files["specialization.safetensors"] = special
    files["analysis.safetensors"] = {
        "js": lesson.js,
        "copies_js": lesson.copies_js,
        "ablation": lesson.ablation,
        "residual": lesson.residual,
        "normed": lesson.normed,
    }
    for model in models:
        if model.file != explorer.TRACE_FILE:
            files[model.file] = model.file_tensors()
    return files


def _same_trace(a, b) -> bool:
    return a.tokens == b.tokens and all(
        x.shape == y.shape and torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values())
    ) and a.tensors().keys() == b.tensors().keys()


def tensor_summary(tensors: dict) -> dict:
    """name -> shape, dtype and min/max/mean over finite entries (masked scores are -inf)."""
    summary = {}
    for name, t in tensors.items():
        t = torch.as_tensor(t).detach().cpu()
        entry = {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
        if t.dtype == torch.bool:
            entry["true"] = int(t.sum())
        else:
            values = t.double()
            finite = values[torch.isfinite(values)]
            if finite.numel():
                entry.update(min=finite.min().item(), max=finite.max().item(), mean=finite.mean().item())
            if finite.numel() < values.numel():
                entry["non_finite"] = int(values.numel() - finite.numel())
        summary[name] = entry
    return summary


# -- manifest ---------------------------------------------------------------------------


def build_manifest(result, staging: _Staging, info: dict, infos: dict, tensor_files: dict) -> dict:
    """The folder's manifest; its ``generator`` marks the folder as this tool's, and ``files`` lists
    every file the tool wrote (the only ones a later render may replace or delete)."""
    config = result.config
    rendered = [*info["lesson_videos"].values(), *(n for c in info["chapters"] for n in c["videos"].values())]
    listed = sorted({*staging.names, *rendered})
    return {
        "generator": f"{GENERATOR} {versions()['mha-explainer']}",
        "format": FOLDER_FORMAT,
        "versions": versions(),
        "config": config.model_dump(mode="json", exclude=WHERE_KEYS),  # not where: a folder can move
        "model": getattr(result.lesson, "model_name", config.model),
        "words": result.lesson.scripts.record() if hasattr(result.lesson, "scripts") else None,
        "video": {"width": result.width, "height": result.height, "fps": result.fps, "duration": info["duration"]},
        "hashes": {name: getattr(result, attribute, None)
                   for name, attribute in (("lesson", "lesson_hash"), ("code", "code_hash"), ("folder", "folder_key"))},
        "lesson": {
            "videos": info["lesson_videos"],
            "durations": {n: round(infos[n].duration, 3) for n in info["lesson_videos"].values() if n in infos},
            "captions": info["captions"],
            "poster": info["poster"],
            "page": "index.html",
            "embed": EMBED,
            "scorm": scorm.PACKAGE if config.scorm else None,
        },
        "chapters": [
            {
                "number": c["number"],
                "id": c["id"],
                "title": c["title"],
                "summary": c["summary"],
                "start": c["start"],
                "end": c["end"],
                "duration": c["duration"],
                "videos": c["videos"],
                "captions": c["captions"],
                "thumbnail": c["thumbnail"],
                "cues": len(c["cues"]),
            }
            for c in info["chapters"]
        ],
        "narration": _narration(result),
        "tensors": tensor_files,
        "files": {
            name: {"bytes": (staging.folder / name).stat().st_size, "sha256": sha256_file(staging.folder / name)}
            for name in listed
            if name != MANIFEST
        },
    }


def _narration(result) -> dict:
    """Who speaks the lesson and at what loudness (measured in the tests; set by ``audio.narration_track``)."""
    from .audio import LESSON_LUFS, LESSON_PEAK_DBTP

    voice = result.voice
    speaks = voice is not None and voice.speaks
    return {
        "voice": voice.name if voice is not None else "none",
        "engine": voice.engine if speaks else None,
        "beats": sum(len(ch.beats) for ch in result.chapters),
        "transcript": TRANSCRIPT,
        "loudness": {"lufs": LESSON_LUFS, "true_peak_ceiling_dbtp": LESSON_PEAK_DBTP} if speaks else None,
    }


# -- the player page --------------------------------------------------------------------


def _data_url(text: str, mime: str) -> str:
    # file:// pages may not fetch other file:// URLs as text tracks (Chrome blocks them): embed the track.
    return f"data:{mime};charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def _clock(seconds: float) -> str:
    seconds = int(math.floor(seconds + 1e-6))  # like a player's clock: 37.6 s is 0:37
    return f"{seconds // 60}:{seconds % 60:02d}"


def presenter_beats(chapters: list[dict], duration: float) -> list[dict]:
    """The lesson as presenter mode steps through it: one step per beat, in lesson seconds.

    A step runs from its beat's start (a chapter's first step from the chapter's start, so its title
    shows) to the next step's start: the beat's speech and the animation that settles after it. The
    last step ends with the lesson. ``text``: what the voice says, as the captions write it.
    """
    steps = []
    for c in chapters:
        for i, b in enumerate(c["beats"]):
            start = c["start"] if i == 0 else c["start"] + b.start
            steps.append({"start": round(start, 3), "chapter": c["id"], "number": c["number"],
                          "title": c["title"], "text": b.text})
    for step, following in zip(steps, steps[1:] + [None]):
        step["end"] = round(following["start"] if following else duration, 3)
    return steps


def template_words(script):
    """The page script's words for the templates: ``w(id, **values)`` fills one entry (escaped like any text;
    a value the template made as markup, such as a link, stays markup), and ``words_for(*ids)`` gives the entries
    themselves, placeholders unfilled, for the page's JavaScript to fill (embedded as JSON)."""
    from markupsafe import Markup, escape

    from ..lesson.formats import value_text

    def w(text_id: str, **values) -> str:
        text = script.text(text_id, values)  # checks the id and its placeholders
        if not any(isinstance(v, Markup) for v in values.values()):
            return text
        return Markup(escape(script.screen[text_id].text)).format(
            **{k: v if isinstance(v, Markup) else value_text(v) for k, v in values.items()})

    def words_for(*ids: str) -> dict[str, str]:
        return {text_id: script.template(text_id) for text_id in ids}

    return w, words_for


def render_page(result, info: dict, template: str = "index.html", lean: bool = False) -> str:
    """index.html: the joined video with captions and chapters, a chapter list that seeks, the summaries,
    presenter mode. ``template="embed.html"``: the same video, captions and chapters alone, for an iframe.
    ``lean``: the page of the lean SCORM package, which links only the files it holds (``lean_names``): no
    thumbnails, chapter files, tensors or manifest (the explorer's numbers are in the page either way).
    Every word of the page comes from the lesson's ``page.toml`` (``template_words``)."""
    import jinja2

    from .. import style

    config, lesson = result.config, result.lesson
    theme = style.look(config)
    w, words_for = template_words(lesson.scripts.page)
    url = lambda name: quote(name)  # noqa: E731  (relative, URL-safe)
    sources = [(url(info["lesson_videos"][f]), VIDEO_TYPES[f]) for f in VIDEO_TYPES if f in info["lesson_videos"]]
    chapters = [
        {
            "number": c["number"],
            "id": c["id"],
            "title": c["title"],
            "summary": c["summary"],
            "start": c["start"],
            "clock": _clock(c["start"]),
            "length": _clock(c["duration"]),
            "thumbnail": None if lean else url(c["thumbnail"]),
            "files": [] if lean else [(fmt, url(name)) for fmt, name in c["videos"].items()]
            + [(w("chapter-file-captions", format=kind), url(name)) for kind, name in c["captions"].items()],
            # The transcript is the spoken lesson: one paragraph per beat.
            "transcript": [{"start": c["start"] + b.start, "clock": _clock(c["start"] + b.start), "text": b.text}
                           for b in c["beats"]],
        }
        for c in info["chapters"]
    ]
    trace = lesson.trace
    downloads = [(label, url(name)) for label, name in [
        *((w("download-lesson-video", format=fmt), name) for fmt, name in info["lesson_videos"].items()),
        (w("download-captions-vtt"), info["captions"]["vtt"]),
        (w("download-captions-srt"), info["captions"]["srt"]),
        (w("download-chapters-vtt"), info["captions"]["chapters"]),
        *((w("download-tensors", file=name), name) for name in info["tensor_files"]),
        (w("download-manifest"), "manifest.json"),
    ] if not lean or name in lean_names(info)]
    # The pages share their head and video through includes (templates/_head.html, _video.html).
    env = jinja2.Environment(loader=jinja2.PackageLoader("scenes.render", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(template).render(
        title=config.title,
        course=config.course,
        outro=config.outro.model_dump() if config.outro else {},  # every line, None where unset
        # the closing card's link is a link only when it is a web address (a mailto: or a bare name stays text)
        outro_href=config.outro.link if config.outro and re.match(r"https?://", config.outro.link or "") else None,
        sentence=config.sentence,
        language=w("language"),  # page.toml says which language its words (and the captions) are in
        model=getattr(lesson, "model_name", config.model),
        tokens=list(trace.tokens or ()),
        facts=[
            w("fact-d-model", d_model=trace.d_model),
            w("fact-heads", n_head=trace.n_head),
            w("fact-d-head", d_head=trace.d_head),
            w("fact-tokens", n_tokens=trace.n_pos),
            *([w("fact-causal-mask")] if trace.mask is not None else []),
        ],
        duration=_clock(info["duration"]),
        theme=theme,
        color_scheme=config.theme,
        sources=sources,
        gif=url(info["lesson_videos"]["gif"]) if "gif" in info["lesson_videos"] and not sources else None,
        poster=url(info["poster"]),
        captions_track=_data_url(to_webvtt(info["lesson_cues"]), "text/vtt"),
        chapters_track=_data_url(to_webvtt(info["chapter_track"]), "text/vtt"),
        chapters=chapters,
        page_data={"chapters": [{"id": c["id"], "start": c["start"]} for c in chapters], "duration": info["duration"],
                   "fps": result.fps,
                   "beats": presenter_beats(info["chapters"], info["duration"])},
        explorer=explorer.page_data(info["explorer"], theme) if template == "index.html" else None,
        downloads=downloads,
        generator=f"{GENERATOR} {versions()['mha-explainer']}",
        width=result.width,
        height=result.height,
        w=w,
        words_for=words_for,
    )
