"""The lesson's chapters, in order: ``CHAPTERS[chapter_id]`` is the chapter's LessonScene subclass."""

from __future__ import annotations

from ..base import LessonScene
from ..lesson.config import CHAPTER_IDS
from .concat import ConcatScene
from .cost import CostScene
from .head_outputs import HeadOutputsScene
from .induction import InductionScene
from .intro import IntroScene
from .one_head import OneHeadScene
from .output_projection import OutputProjectionScene
from .parallel_heads import ParallelHeadsScene
from .recap import RecapScene
from .specialization import SpecializationScene
from .split_heads import SplitHeadsScene

_SCENES = (
    IntroScene,
    OneHeadScene,
    SplitHeadsScene,
    ParallelHeadsScene,
    SpecializationScene,
    InductionScene,
    HeadOutputsScene,
    ConcatScene,
    OutputProjectionScene,
    CostScene,
    RecapScene,
)

CHAPTERS: dict[str, type[LessonScene]] = {cls.chapter_id: cls for cls in _SCENES}
assert tuple(CHAPTERS) == CHAPTER_IDS, "every chapter id needs exactly one scene, in CHAPTER_IDS order"

__all__ = ["CHAPTERS"]
