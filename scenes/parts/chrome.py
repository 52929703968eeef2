"""Chrome: badges, braces, cards and notes, chapter headers, head chips, highlight frames, the author's logo."""

from __future__ import annotations

from collections.abc import Sequence

from manim import DOWN, LEFT, RIGHT, UL, Brace, Mobject, Rectangle, RoundedRectangle, VGroup, VMobject, config

from mha_core.relations import relation_name  # noqa: F401  (parts.relation_name: a relation as a label)

from .. import style
from ..layout import fit, logo_box
from ..style import Theme
from .text import formula, paragraph, text
from .words import shared_text


def shape_badge(th: Theme, s: str, color=None, size: float = style.SMALL_SIZE, *, math_mode: bool = False) -> VGroup:
    """A small rounded tag: ``shape_badge(th, "9 × 4")`` or ``shape_badge(th, "n times d_k", math_mode=True)``."""
    label = formula(th, s, size, color or th.text) if math_mode else text(th, s, size, color or th.text)
    box = RoundedRectangle(corner_radius=0.1, width=label.width + 0.25, height=label.height + 0.18,
                           stroke_color=color or th.grid, stroke_width=1.5, fill_color=th.panel, fill_opacity=1)
    badge = VGroup(box, label.move_to(box))
    badge.label = label
    return badge


def brace_label(th: Theme, mob: VMobject, s: str, direction=DOWN, color=None, size: float = style.SMALL_SIZE,
                *, math_mode: bool = False, buff: float = 0.08) -> VGroup:
    """A brace along one side of ``mob`` with a label (Typst maths if ``math_mode``)."""
    brace = Brace(mob, direction=direction, buff=buff, sharpness=1.5)
    brace.set_color(color or th.muted)
    label = formula(th, s, size, color or th.text) if math_mode else text(th, s, size, color or th.text)
    label.next_to(brace, direction, buff=style.GAP_TIGHT)
    group = VGroup(brace, label)
    group.brace, group.label = brace, label
    return group


def card(th: Theme, content: VMobject, *, accent=None, buff: float = 0.22, width: float | None = None) -> VGroup:
    """A panel behind ``content`` (optionally with an accent bar on its left)."""
    pad_left = 0.12 if accent is not None else 0.0  # room for the accent bar
    w = max(content.width + 2 * buff + pad_left, width or 0)
    box = RoundedRectangle(corner_radius=0.12, width=w, height=content.height + 2 * buff,
                           stroke_color=accent or th.grid, stroke_width=1.2, fill_color=th.panel, fill_opacity=1)
    box.move_to(content).shift(LEFT * pad_left / 2)
    group = VGroup(box)
    if accent is not None:
        bar = Rectangle(width=0.07, height=box.height - 0.16, stroke_width=0, fill_color=accent, fill_opacity=1)
        bar.move_to(box.get_left() + RIGHT * 0.1)
        group.add(bar)
    group.add(content)
    group.box, group.content = box, content
    return group


def formula_card(th: Theme, *lines: str, title: str | None = None, size: float = style.BODY_SIZE + 2,
                 accent=None) -> VGroup:
    """Typst maths lines on a panel, e.g. ``formula_card(th, "head_i = softmax(...) V_i", title="one head")``."""
    rows = VGroup(*(formula(th, line, size) for line in lines)).arrange(DOWN, buff=style.GAP_ROW, aligned_edge=LEFT)
    if title:
        rows = VGroup(text(th, title, style.SMALL_SIZE, th.muted), rows).arrange(DOWN, buff=style.GAP_NAME, aligned_edge=LEFT)
    return card(th, rows, accent=accent)


NOTE_INSET = 0.34  # a full-width note's text from its box's left edge: past the accent bar


def note(th: Theme, s: str, *, width: float = 5.0, kind: str = "info", size: float = style.LABEL_SIZE,
         full_width: bool = False) -> VGroup:
    """A callout: ``kind="caveat"`` / ``"trap"`` get the warning accent, ``"info"`` the muted one.

    ``full_width``: the box is exactly ``width`` wide and its text starts at the left, so notes
    stacked together line up."""
    accent = th.warn if kind in ("caveat", "trap") else th.muted
    group = card(th, paragraph(th, s, width - 0.5, size), accent=accent, width=width if full_width else None)
    if full_width:
        group.content.align_to(group.box, LEFT).shift(RIGHT * NOTE_INSET)
    return group


def chapter_header(th: Theme, number: int, title: str, subtitle: str | None = None, *,
                   stages: Sequence[str] = (), all_stages: Sequence[str] = ()) -> VGroup:
    """'2  One head' at the top-left, and an optional muted line under it (e.g. the model's sizes).

    ``stages``: the stages of ``all_stages`` this chapter shows, lit on a map of them at the top right, level
    with the title (``.map``; None without stages). Anything else at the top right goes level with the subtitle.
    """
    line = text(th, f"{number}  {title}", style.TITLE_SIZE, th.text, bold=True)
    line[: len(str(number))].set_color(th.highlight)  # one glyph per non-space character
    group = VGroup(line)
    if subtitle:
        group.add(text(th, subtitle, style.SMALL_SIZE, th.muted))
        group.arrange(DOWN, aligned_edge=LEFT, buff=style.GAP_LABEL)
    group.to_corner(UL, buff=style.TITLE_BUFF)
    fit(group, width=config.frame_width - 2 * style.TITLE_BUFF)
    group.to_corner(UL, buff=style.TITLE_BUFF)
    group.map = None
    if stages:
        room = config.frame_width / 2 - style.FRAME_MARGIN - (line.get_right()[0] + style.GAP_APART)
        group.map = fit(stage_map(th, all_stages, stages), width=room)
        group.map.to_edge(RIGHT, buff=style.FRAME_MARGIN).set_y(line.get_y())
        group.add(group.map)
    return group


# The words of each stage of the block on the map (scripts/shared.toml), by ``chapters.STAGES`` id.
STAGE_IDS = {"qkv": "stage-qkv", "split": "stage-split", "attend": "stage-attend", "concat": "stage-concat",
             "project": "stage-project", "add-norm": "stage-add-norm"}


def stage_map(th: Theme, stages: Sequence[str], lit: Sequence[str]) -> VGroup:
    """The block's stages in a row, arrows between, the ``lit`` ones filled: where this chapter is.

    ``.stages[i]``: VGroup(box, word) of ``stages[i]`` (its words: ``STAGE_IDS``),
    ``.lit``: the ids lit."""
    size = style.NUMBER_SIZE
    boxes = VGroup()
    for stage in stages:
        on = stage in lit
        word = text(th, shared_text(STAGE_IDS[stage]), size, th.background if on else th.muted, bold=on)
        box = RoundedRectangle(corner_radius=0.06, width=word.width + 0.12, height=size / 48 * 0.8,
                               stroke_color=th.highlight if on else th.grid, stroke_width=1.2,
                               fill_color=th.highlight, fill_opacity=1 if on else 0)
        boxes.add(VGroup(box, word.move_to(box)))
    boxes.arrange(RIGHT, buff=0.24)
    arrows = VGroup(*(text(th, "\u2192", size, th.muted).move_to((a.get_right() + b.get_left()) / 2)
                      for a, b in zip(boxes, boxes[1:])))
    group = VGroup(boxes, arrows)
    group.stages, group.lit = boxes, tuple(lit)
    return group


def model_line(lesson) -> str:
    """The live model's sizes, for chapter subtitles: 'toy model (untrained, seed 0) · d = 16 · h = 4 · d_k = 4'
    (the words: ``model-line`` in scripts/shared.toml)."""
    return shared_text("model-line", model=lesson.model_name, d_model=lesson.d_model, n_head=lesson.n_head,
                       d_head=lesson.d_head)


def head_chip(th: Theme, head: int, size: float = style.SMALL_SIZE, label: str | None = None) -> VGroup:
    """A filled tag in head ``head``'s colour reading 'head 1' (heads are numbered from 1 on screen)."""
    word = text(th, label or shared_text("head-number", head=head + 1), size, th.background, bold=True)
    box = RoundedRectangle(corner_radius=0.08, width=word.width + 0.2, height=word.height + 0.14,
                           stroke_width=0, fill_color=th.head(head), fill_opacity=1)
    chip = VGroup(box, word.move_to(box))
    chip.label, chip.head_index = word, head
    return chip


def highlight_box(th: Theme, mob: VMobject, buff: float = 0.06, color=None) -> Rectangle:
    """A frame around ``mob`` (the focus / the sweep)."""
    r = Rectangle(width=mob.width + 2 * buff, height=mob.height + 2 * buff, stroke_color=color or th.highlight,
                  stroke_width=3)
    return r.move_to(mob)


def logo(path) -> Mobject:
    """The author's logo (``logo`` in lesson.toml: a PNG or SVG), as large as ``layout.logo_box`` allows keeping its
    shape, against the box's bottom-right corner; ``.is_logo`` is True.

    The file is read once and checked again here (``lesson.logo.read_logo``), and what is drawn is those bytes: a
    PNG as a ``Picture`` (its pixels no more than twice what it is shown at), an SVG parsed from a private copy
    (Manim writes a modified copy beside the file it parses, which must never be the author's folder)."""
    import tempfile
    from pathlib import Path

    from ..lesson.logo import read_logo

    art = read_logo(path)
    left, right, bottom, top = logo_box()
    width, height = right - left, top - bottom
    if art.kind == "png":
        mob = _png_logo(art.data, min(height, width / art.aspect))
    else:
        from manim import SVGMobject

        with tempfile.TemporaryDirectory(prefix="mha-explainer-logo-") as folder:
            copy = Path(folder) / "logo.svg"
            copy.write_bytes(art.data)
            mob = SVGMobject(copy, height=None, use_svg_cache=False)
    if mob.width > 0 or mob.height > 0:
        mob.scale(min(width / mob.width if mob.width > 0 else float("inf"),
                      height / mob.height if mob.height > 0 else float("inf")))
    mob.shift([right - mob.get_right()[0], bottom - mob.get_bottom()[1], 0])
    mob.is_logo = True
    return mob


def _png_logo(data: bytes, shown_height: float) -> Mobject:
    """A PNG's pixels as a ``Picture`` ``shown_height`` high, downsampled first to twice the pixels it covers."""
    import io

    import numpy as np
    from PIL import Image

    from .picture import Picture

    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        rgba = image.convert("RGBA")
    needed = max(2, 2 * round(shown_height / config.frame_height * config.pixel_height))
    if rgba.height > needed:
        rgba = rgba.resize((max(1, round(rgba.width * needed / rgba.height)), needed), Image.Resampling.LANCZOS)
    picture = Picture(np.asarray(rgba))
    return picture.scale_to_fit_height(shown_height)
