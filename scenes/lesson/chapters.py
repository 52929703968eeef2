"""The lesson's chapters, in the order to play: the one registry.

A chapter is one unit: its id, its words (``scenes/scripts/<id>.toml``: title, summary, every beat
and on-screen sentence; see ``script``), the Lesson data its scene reads, and its scene (a
``LessonScene`` subclass in ``scenes/chapters/``, named here by import path so this layer stays
below the drawing). Adding a chapter is one scene module, one script file and one entry below.

    >>> [c.id for c in CHAPTERS][:2]
    ['intro', 'one-head']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    id: str  # stable: file names, cache keys, the CLI's arguments, the script file's name
    scene: str  # "module:Class" in scenes.chapters
    reads: tuple[str, ...] = ()  # the Lesson's data its scene reads (its cache key hashes exactly these)
    act: int = 1  # 1: the mechanism, unbroken; 2: what heads learn and how we know (ACTS)
    stages: tuple[str, ...] = ()  # the STAGES of the block it shows: lit on the map act 1 keeps on screen
    # Whether its frames draw its own number (the header's "2  One head"): then the number is in its cache key.
    # The intro draws none of its own; its plan lists every chapter's number, which its data (``plan``) holds.
    draws_number: bool = True

    @property
    def module(self) -> str:
        """The scene's module in ``scenes.chapters`` ("intro", "one_head")."""
        return self.scene.partition(":")[0]

    @property
    def scene_class(self) -> str:
        return self.scene.partition(":")[2]


# What each scene reads of the Lesson (``build.DATA``; what is computed from those comes with them, e.g.
# ``tokens`` with ``trace``). Every mechanics chapter names the MiniLM layer it draws from (``layer``).
_MECHANICS = ("trace", "focus", "layer")
# Two acts: first the mechanism, unbroken, from one head to the block's cost; then what trained heads learn,
# each claim with its measurement, and the recap.
ACTS = (1, 2)
# The stages of a multi-head attention block, in order: the map each act-1 chapter shows beside its title.
STAGES = ("qkv", "split", "attend", "concat", "project", "add-norm")
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("intro", "intro:IntroScene", ("relationships", "plan", *_MECHANICS, "focus_head"), draws_number=False),
    Chapter("one-head", "one_head:OneHeadScene", (*_MECHANICS, "focus_head", "focus_relation"),
            stages=("qkv", "attend")),
    Chapter("split-heads", "split_heads:SplitHeadsScene",
            (*_MECHANICS, "mha", "focus_head", "copied_head", "copies", "js", "copies_js", "trap"), stages=("split",)),
    Chapter("parallel-heads", "parallel_heads:ParallelHeadsScene", (*_MECHANICS, "focus_head"), stages=("attend",)),
    Chapter("head-outputs", "head_outputs:HeadOutputsScene", (*_MECHANICS, "focus_head"), stages=("attend",)),
    Chapter("concat", "concat:ConcatScene", _MECHANICS, stages=("concat",)),
    Chapter("output-projection", "output_projection:OutputProjectionScene", (*_MECHANICS, "mha", "residual", "normed"),
            stages=("project", "add-norm")),
    Chapter("cost", "cost:CostScene", (*_MECHANICS, "cost", "cost_examples"), stages=STAGES),
    Chapter("specialization", "specialization:SpecializationScene", ("specialization", "gallery"), act=2),
    Chapter("redundancy", "redundancy:RedundancyScene", ("ablation", "redundancy", "layer"), act=2),
    Chapter("induction", "induction:InductionScene", ("induction",), act=2),
    Chapter("recap", "recap:RecapScene", (*_MECHANICS, "copied_head", "js", "copies_js", "cost"), act=2),
)
# The closing card (the lesson.toml's ``outro``: author, licence, link): rendered like a chapter, after the
# author's chapters, with its own cache key; not a chapter of the lesson's teaching (not in CHAPTERS, not in the
# intro's plan, never a default). Its words are the shared script's ``outro-*`` entries.
OUTRO_ID = "outro"
OUTRO = Chapter(OUTRO_ID, "outro:OutroScene", (), act=0, draws_number=False)


CHAPTER_IDS: tuple[str, ...] = tuple(c.id for c in CHAPTERS)
BY_ID: dict[str, Chapter] = {c.id: c for c in (*CHAPTERS, OUTRO)}


def chapter(chapter_id: str) -> Chapter:
    return BY_ID[chapter_id]


def chapter_number(chapter_id: str, order: tuple[str, ...] = CHAPTER_IDS) -> int:
    """A chapter's place in ``order`` (the lesson's ``chapters``, as the author gives them), from 1: its number in
    frames, file names ("02-one-head.mp4"), chapter marks and the page. ``chapters = ["recap", "concat"]``
    numbers recap 1 and concat 2."""
    return tuple(order).index(chapter_id) + 1
