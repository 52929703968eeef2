"""Stand-in chapters for the course tests: two short scenes (a second of animation each), so a course of
four lessons renders in seconds. The chapter processes import them as "course_scenes:TWO" (tests/ is on
their PYTHONPATH, as on the test's)."""

from __future__ import annotations

from manim import LEFT, RIGHT, Dot, Square

from scenes.base import LessonScene
from scenes.lesson.script import parse_script


class DotScene(LessonScene):
    chapter_id, title, summary = "intro", "A dot", "One dot moves."
    script = parse_script("intro", '[beats]\ndot = "A dot moves."\n'.encode(), "a stand-in script")

    def construct(self):
        with self.beat("dot"):
            self.play(Dot(color=self.theme.text).animate.shift(RIGHT * 2), run_time=1)


class SquareScene(LessonScene):
    chapter_id, title, summary = "recap", "A square", "One square moves."
    script = parse_script("recap", '[beats]\nsquare = "A square moves."\n'.encode(), "a stand-in script")

    def construct(self):
        with self.beat("square"):
            self.play(Square(0.5, color=self.theme.text).animate.shift(LEFT * 2), run_time=1)


TWO = {"intro": DotScene, "recap": SquareScene}

# A course of these chapters: two sentences, 256x144 at 5 fps, silent, the toy model (nothing to measure).
COURSE = """title = "Two sentences"

[lesson]
pixel_height = 144
fps = 5
voice = "none"
model = "toy"
specialization_model = "toy"
chapters = ["intro", "recap"]

[matrix]
sentence = ["The cat sat down because it was tired.", "The dog chased the ball because it was fast."]
"""
