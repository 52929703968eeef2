"""Render speed: the narrated lesson against a one-dot floor, one job against two, and the cache.

    python benchmarks/render.py                        # 720p30, the whole lesson (takes a while)
    python benchmarks/render.py --height 144 --fps 5 --chapters intro,recap   # a quick dry run

Prints, with PASS/FAIL against the targets:
- lesson seconds at --jobs 1 (speech synthesised afresh: the benchmark's render cache is a new folder)
  and the floor: a scene with one dot moving for the lesson's whole duration at the same
  size and frame rate, carrying the lesson's sound track, through the same pipeline (a
  spawned worker process, Manim, H.264, the sound's loudness and AAC), i.e. what any
  narrated video that long costs. Target: lesson <= 2.0 x floor.
- narration synthesis alone: every beat of the lesson spoken again without a cache, and
  its real-time factor (seconds of speech per second of synthesis);
- the --jobs 2 speed-up over --jobs 1 (target >= 1.7 x);
- a second, unchanged render (target <= 1 s): timed in this process (render_lesson: every
  chapter cached, the folder written again) and as a user runs it (the CLI, a new Python,
  run twice with one more format (png): the first writes a new lesson folder from the
  cached chapters, the second finds the folder unchanged);
- held frames (--hold seconds, default 30): a still picture held that long (``self.wait()``)
  against the same time of new frames (a dot moving over the same picture), both rendered in
  this process at the lesson's size and rate through Manim and the patched encoder
  (``fast_frames``: a held frame is encoded once). Target: hold <= 0.1 x new frames.
Every render here is forced (no cache) except the last three.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from manim import LEFT, RIGHT, Dot, Scene, config, linear

from scenes.base import LessonScene
from scenes.lesson.chapters import CHAPTER_IDS
from scenes.lesson.config import LessonConfig
from scenes.render import code_hash, render_lesson
from scenes.render.audio import SAMPLE_RATE, join_tracks, read_wav, write_wav
from scenes.render.cache import NARRATION
from scenes.voice import Narrator, Speech

TARGET_RATIO, TARGET_SPEEDUP, TARGET_CACHED, TARGET_HOLD = 2.0, 1.7, 1.0, 0.1


class FloorScene(LessonScene):
    """One dot crossing the frame for ``FLOOR_SECONDS``, carrying the sound in ``FLOOR_SOUND`` (if any):
    the cheapest narrated video of that length."""

    chapter_id, title, summary = "intro", "Floor", "One dot moving."

    def construct(self):
        seconds = float(os.environ["FLOOR_SECONDS"])
        if os.environ.get("FLOOR_SOUND"):
            samples, rate = read_wav(Path(os.environ["FLOOR_SOUND"]))
            self.speech.append((0.0, Speech(samples, rate, ())))
        dot = Dot(color=self.theme.text).shift(LEFT * 6)
        self.play(dot.animate.shift(RIGHT * 12), run_time=seconds / self.pacing, rate_func=linear)


FLOOR = {"intro": FloorScene}  # the workers import it as "render:FLOOR" (this folder is on sys.path)


def _picture():
    from manim import Square, Text, VGroup

    squares = [Square(0.5).shift(LEFT * 5 + RIGHT * 0.7 * i) for i in range(12)]
    return VGroup(*squares, Text("multi-head attention").shift(RIGHT * 2))


class HoldScene(Scene):
    """A picture held for ``seconds`` (after one frame that draws it)."""

    def construct(self):
        dot = Dot().shift(LEFT * 6)
        self.add(_picture(), dot)
        self.play(dot.animate.shift(RIGHT), run_time=1 / config.frame_rate)
        self.wait(self.seconds)


class MoveScene(Scene):
    """The same picture for ``seconds``, a dot crossing it: a new frame every frame."""

    def construct(self):
        dot = Dot().shift(LEFT * 6)
        self.add(_picture())
        self.play(dot.animate.shift(RIGHT * 12), run_time=self.seconds, rate_func=linear)


def hold_cost(lesson_config: LessonConfig, seconds: float, folder: Path) -> tuple[float, float]:
    """(seconds to render ``seconds`` of a held picture, seconds to render as long of new frames), in this
    process, at the lesson's size and rate, through the render workers' settings and encoder."""
    from scenes.render.worker import manim_settings, render_scene

    times = []
    for scene_cls in (HoldScene, MoveScene):
        settings = manim_settings(lesson_config, folder / scene_cls.__name__)

        def make(cls=scene_cls):
            scene = cls()
            scene.seconds = seconds
            return scene

        _, t = timed(lambda: render_scene(make, settings))
        times.append(t)
    return times[0], times[1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--chapters", default=",".join(CHAPTER_IDS))
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds of the held-frame measurement")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="mha-bench-"))
    # A render cache of the benchmark's own (a new folder: no chapter or speech from an earlier run is reused).
    config = LessonConfig(pixel_height=args.height, fps=args.fps, chapters=args.chapters, out=out / "lesson",
                          cache=str(out / "render-cache"))
    print(f"{len(config.chapters)} chapters at {config.width}x{config.height}, {config.frame_rate} fps; "
          f"{os.cpu_count()} CPU cores; work folder {out}", flush=True)

    hold_cost(config, 1.0, out / "hold-warm-up")  # imports, fonts, the first Text
    t_hold, t_move = hold_cost(config, args.hold, out / "hold")
    print(f"held frames: {args.hold:.0f} s held in {t_hold:.2f} s, {args.hold:.0f} s of new frames in {t_move:.2f} s",
          flush=True)

    one, t_one = timed(lambda: render_lesson(config, jobs=1, use_cache=False))
    print(f"lesson, --jobs 1:   {t_one:7.1f} s for {one.duration:.1f} s of video", flush=True)
    print("    phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in one.timings.items()))
    for ch in one.chapters:
        print(f"    {ch.chapter_id:<18} {ch.duration:5.1f} s of video  rendered in {ch.render_seconds:6.1f} s")

    spoken = [b.spoken for ch in one.chapters for b in ch.beats]
    narrator = Narrator(one.voice, None, pacing=config.pacing)  # no cache: every beat synthesised
    speech, t_speech = timed(lambda: [narrator.speak(text) for text in spoken])
    speech_seconds = sum(s.seconds for s in speech)
    print(f"narration ({one.voice.name}): {t_speech:7.1f} s to synthesise {speech_seconds:.1f} s of speech "
          f"({len(spoken)} beats)", flush=True)

    os.environ["FLOOR_SECONDS"] = str(one.duration)  # the spawned worker reads it
    if one.voice.speaks:  # the floor carries the lesson's sound track
        # (a chapter's frame lies in its cache entry, next to its sound)
        sound = join_tracks([ch.frame.parent / NARRATION for ch in one.chapters], [ch.duration for ch in one.chapters])
        write_wav(out / "floor-sound.wav", sound, SAMPLE_RATE)
        os.environ["FLOOR_SOUND"] = str(out / "floor-sound.wav")
    floor_config = config.model_copy(update={"chapters": ("intro",), "specialization_model": "toy",
                                             "out": out / "floor"})
    floor, t_floor = timed(lambda: render_lesson(floor_config, jobs=1, use_cache=False,
                                                 chapters_module="render:FLOOR"))
    print(f"floor (one dot):    {t_floor:7.1f} s for {floor.duration:.1f} s of video", flush=True)

    two, t_two = timed(lambda: render_lesson(config, jobs=2, use_cache=False))
    print(f"lesson, --jobs 2:   {t_two:7.1f} s", flush=True)
    print("    phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in two.timings.items()))

    if code_hash() != two.code_hash:  # someone edited mha_core/ or scenes/ while this ran
        print("note: the sources changed during the benchmark, so the 'unchanged' render re-renders")
    cached, t_cached = timed(lambda: render_lesson(config, jobs=2))
    # One more format than the renders above (png, a frame the cache already holds): a new folder.
    cli = [sys.executable, "-m", "cli", "render", "--pixel-height", str(args.height), "--fps", str(args.fps),
           "--chapters", ",".join(config.chapters), "--format", "mp4", "--format", "png", "--out", str(config.out),
           "--cache", config.cache]

    def run_cli():
        proc = subprocess.run(cli, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        if proc.returncode:
            print(proc.stdout + proc.stderr)
        return proc.returncode == 0

    # The first CLI run takes every chapter from the cache but writes the lesson folder (captions,
    # thumbnails, manifest, page); the second finds that folder as it would write it.
    cli_ok, t_cli_folder = timed(run_cli)
    again_ok, t_cli = timed(run_cli)
    cli_ok = cli_ok and again_ok

    ratio, speedup = t_one / t_floor, t_one / t_two
    print()
    print(f"lesson seconds (--jobs 1)      {t_one:7.1f}")
    print(f"floor seconds                  {t_floor:7.1f}")
    if t_speech:
        print(f"narration synthesis seconds    {t_speech:7.1f}   real-time factor {speech_seconds / t_speech:.0f} x "
              f"({one.voice.name})")
    print(f"ratio lesson / floor           {ratio:7.2f}   target <= {TARGET_RATIO}   {verdict(ratio <= TARGET_RATIO)}")
    print(f"speed-up --jobs 2 vs 1         {speedup:7.2f}   target >= {TARGET_SPEEDUP}   "
          f"{verdict(speedup >= TARGET_SPEEDUP)}")
    print(f"unchanged render, in process   {t_cached:7.1f}   target <= {TARGET_CACHED}   "
          f"{verdict(t_cached <= TARGET_CACHED)}")
    print(f"chapters cached, CLI           {t_cli_folder:7.1f}   (a new Python: imports, Lesson, writes the folder)")
    print(f"unchanged render, CLI          {t_cli:7.1f}   target <= {TARGET_CACHED}   "
          f"{verdict(t_cli <= TARGET_CACHED and cli_ok)}  (the same command again: the folder is kept)")
    hold = t_hold / t_move
    print(f"held / new frames ({args.hold:.0f} s)    {hold:7.3f}   target <= {TARGET_HOLD}   "
          f"{verdict(hold <= TARGET_HOLD)}  ({t_hold:.2f} s / {t_move:.2f} s)")


if __name__ == "__main__":
    main()
