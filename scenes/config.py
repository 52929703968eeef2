"""LessonConfig: every parameter a course author can set, validated once.

Effective config = defaults <- lesson.toml <- command-line flags. Scenes never
read flags or files: they read the ``Lesson`` built from this object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mha_core import divisors

CHAPTER_IDS = (
    "intro",
    "one-head",
    "split-heads",
    "parallel-heads",
    "specialization",
    "head-outputs",
    "concat",
    "output-projection",
    "cost",
    "recap",
)

# Manim's quality presets: name -> (letter, pixel height, frame rate).
QUALITIES = {
    "preview": ("l", 480, 15),
    "low": ("l", 480, 15),
    "medium": ("m", 720, 30),
    "high": ("h", 1080, 60),
    "4k": ("k", 2160, 60),
}
QUALITY_LETTERS = {"l": "low", "m": "medium", "h": "high", "k": "4k"}
FORMATS = ("mp4", "webm", "gif", "png")

DEFAULT_SENTENCE = "The cat sat down because it was tired."


class LessonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("Multi-Head Attention: Many Patterns at Once", description="title shown on the intro card")
    sentence: str = Field(DEFAULT_SENTENCE, description="the sentence every chapter traces")
    model: Literal["toy", "minilm"] = Field("toy", description="model for the mechanics chapters")
    specialization_model: Literal["toy", "minilm"] = Field(
        "minilm", description="model whose heads the 'heads specialise' chapter shows (trained heads need minilm)"
    )
    layer: int = Field(0, ge=0, le=5, description="MiniLM layer to trace (0-5)")
    heads: int = Field(4, ge=1, le=64, description="number of heads h of the toy model")
    d_model: int = Field(16, ge=1, le=1024, description="model width d of the toy model")
    seed: int = Field(0, ge=0, description="seed for the toy model's weights and embeddings")
    causal: bool = Field(False, description="apply a causal mask (each token sees only itself and earlier ones)")
    chapters: tuple[str, ...] = Field(CHAPTER_IDS, description="chapters to render, in order")
    theme: Literal["dark", "light"] = "dark"
    pacing: float = Field(1.0, gt=0.1, le=4.0, description="multiplies every animation and wait time")
    quality: Literal["preview", "low", "medium", "high", "4k"] = "medium"
    fps: int | None = Field(None, ge=1, le=120, description="frame rate; default: the quality preset's")
    pixel_height: int | None = Field(None, ge=90, le=4320, description="override the preset's height (16:9)")
    formats: tuple[Literal["mp4", "webm", "gif", "png"], ...] = ("mp4",)
    out: Path = Field(Path("media"), description="output folder")
    device: str = Field("cpu", description="torch device for the core: cpu, cuda, mps or auto")

    @model_validator(mode="after")
    def _check(self) -> "LessonConfig":
        if not self.sentence.strip():
            raise ValueError("sentence is empty; give a sentence with at least one word")
        if self.d_model % self.heads:
            choices = ", ".join(map(str, divisors(self.d_model)))
            raise ValueError(f"heads = {self.heads} does not divide d_model = {self.d_model}; pick {choices}")
        unknown = [c for c in self.chapters if c not in CHAPTER_IDS]
        if unknown:
            raise ValueError(f"unknown chapter {unknown[0]!r}; choose from {', '.join(CHAPTER_IDS)}")
        if not self.chapters:
            raise ValueError("chapters is empty; list at least one chapter")
        return self

    @property
    def frame_rate(self) -> int:
        return self.fps or QUALITIES[self.quality][2]

    @property
    def height(self) -> int:
        return self.pixel_height or QUALITIES[self.quality][1]

    @property
    def width(self) -> int:
        return round(self.height * 16 / 9 / 2) * 2  # even, as H.264 needs
