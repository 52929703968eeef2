"""The lesson's visual parts, by concept; a chapter imports this package and builds with them.

    row = parts.TokenRow(th, lesson.tokens)                          # row.tokens[i], row.words[i]
    A = parts.AttentionGrid(th, lesson.trace.weights[0], lesson.tokens)   # A.cells[q][k], A.bar
    Q = parts.NumberMatrix(th, lesson.trace.q[0], labels=parts.MatrixLabels(rows=lesson.tokens, name="Q_1"))
    Q.entry(2, 1).value, Q.entry(2, 1).str                           # the source number and what is shown

Every part takes the ``Theme`` first (``th = self.theme``) and takes its colours and sizes from
``scenes.style``. Parts are ``VGroup``s with named attributes, so a chapter can animate pieces
of them. Numbers are ``NumberLabel``s carrying ``.value`` and ``.str``, so tests read what is
on screen.

- ``text``: Pango text, paragraphs, Typst maths, words cut from one line
- ``numbers``: NumberLabel, number, count, number_row, inline (text and numbers on one baseline)
- ``matrices``: NumberMatrix, HeadBlocks (MatrixLabels), vector, VectorStack, heatmap
- ``tokens``: TokenRow
- ``attention``: ColorBar, AttentionGrid (GridDecor, OVERVIEW), attention_arc(s)
- ``charts``: Table, BarChart, Pipeline
- ``chrome``: shape_badge, brace_label, card, formula_card, note, chapter_header, head_chip, highlight_box,
  logo (the author's, in the bottom-right corner); a relation's name as a label (relation_name)
- ``picture``: Picture (a raster image the Cairo camera draws with this Pillow)
- ``motion``: sweep
- ``space``: KeySpace (one head's queries and keys drawn flat), ArrowChain (a sum, tip to tail), vector_arrow
- ``words``: the shared words parts draw themselves (scripts/shared.toml; the lesson's while a scene renders)
"""

from __future__ import annotations

from .attention import OVERVIEW, AttentionGrid, ColorBar, GridDecor, attention_arc, attention_arcs, cap_note
from .charts import BarChart, Pipeline, Table
from .chrome import (
                     brace_label,
                     card,
                     chapter_header,
                     formula_card,
                     head_chip,
                     highlight_box,
                     logo,
                     model_line,
                     note,
                     relation_name,
                     shape_badge,
)
from .matrices import HeadBlocks, MatrixLabels, NumberMatrix, VectorStack, heatmap, row_label, vector
from .motion import sweep
from .numbers import NumberLabel, baseline_y, char_width, count, inline, number, number_row, values_of
from .space import ArrowChain, KeySpace, vector_arrow
from .text import Glyphs, baseline_words, formula, paragraph, text, typst_text
from .tokens import TokenRow

__all__ = [
    "ArrowChain", "AttentionGrid", "BarChart", "ColorBar", "Glyphs", "GridDecor", "HeadBlocks", "KeySpace",
    "MatrixLabels", "NumberLabel", "NumberMatrix", "OVERVIEW", "Pipeline", "Table", "TokenRow", "VectorStack",
    "attention_arc", "attention_arcs", "baseline_words", "baseline_y", "brace_label", "cap_note", "card",
    "chapter_header", "char_width", "count", "formula", "formula_card", "head_chip", "heatmap", "highlight_box",
    "inline", "logo", "model_line", "note", "number", "number_row", "paragraph", "row_label", "shape_badge", "sweep", "text",
    "typst_text", "values_of", "vector", "vector_arrow",
]
