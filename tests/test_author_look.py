"""The author's look (issue 25): chapters numbered in the author's order, and the keys of the look.

Each key is checked where it shows (frames via headless runs or a tiny render, files, chapter marks, the page)
and in the chapter keys: what a chapter draws is in its key, what it does not draw is not.
"""

from __future__ import annotations

import itertools
import json
import re

import av
import pytest
from manim import FadeIn
from conftest import reads_runs

from scenes.base import LessonScene
from scenes.lesson.config import CHAPTER_IDS, ConfigError, load_config
from scenes.render.keys import render_settings

TOY = {"model": "toy", "specialization_model": "toy"}
ORDER = ("recap", "concat")  # the author's order: recap first


# -- 1. chapters numbered in the author's order -------------------------------------------------------------


def test_numbers_follow_the_authors_order():
    config = load_config(chapters=",".join(ORDER), **TOY)
    assert [config.chapter_number(cid) for cid in ORDER] == [1, 2]
    default = load_config(**TOY)
    assert [default.chapter_number(cid) for cid in CHAPTER_IDS] == list(range(1, len(CHAPTER_IDS) + 1))


def test_a_drawn_number_is_in_the_chapter_key_and_only_there():
    first = load_config(chapters="intro,recap,concat", **TOY)
    moved = load_config(chapters="intro,concat,recap", **TOY)
    # recap and concat draw their number in their header: moving them changes their keys
    assert render_settings(first, "recap")["number"] == 2 and render_settings(moved, "recap")["number"] == 3
    assert render_settings(first, "concat") != render_settings(moved, "concat")
    # the intro draws no number of its own (its plan is its data): the number is not in its settings
    assert "number" not in render_settings(first, "intro")
    assert render_settings(first, "intro") == render_settings(moved, "intro")


@pytest.mark.xdist_group("author-look-runs")
def test_headers_draw_the_authors_numbers(headless):
    overrides = {**TOY, "chapters": ORDER}
    for number, cid in enumerate(ORDER, 1):
        run = headless(overrides, "dark", cid)
        line = run.scene.state.header[0].original_text
        assert line.split()[0] == str(number), line


@pytest.mark.xdist_group("author-look-runs")
def test_the_intro_plan_lists_the_authors_order(lesson_for):
    lesson = lesson_for(**TOY, chapters=("intro", "recap", "concat"))
    assert [(n, title) for n, title, _ in lesson.plan] == [
        (1, lesson.scripts.title("intro")), (2, "Recap"), (3, lesson.scripts.title("concat"))]


class _Numbered(LessonScene):
    """A stand-in chapter that draws its header (its number and title), and nothing else: a second of video."""

    def construct(self):
        header = self.header()
        self.state = type("State", (), {"header": header})()
        self.play(FadeIn(header), run_time=0.4)
        self.wait(0.4)


class RecapStandIn(_Numbered):
    chapter_id = "recap"


class ConcatStandIn(_Numbered):
    chapter_id = "concat"


from scenes.chapters.outro import OutroScene  # noqa: E402 - the real closing card

NUMBERED = {"recap": RecapStandIn, "concat": ConcatStandIn, "outro": OutroScene}
OUTRO = {"author": "A. Teacher", "licence": "CC BY 4.0", "link": "https://example.org/course"}


@pytest.fixture(scope="module")
def ordered(tmp_path_factory):
    """A tiny lesson of two stand-in chapters in the author's order, recap then concat, and the closing card."""
    from scenes.render import render_lesson

    config = load_config(chapters=",".join(ORDER), pixel_height=144, fps=5, voice="none", **TOY, outro=OUTRO,
                         course="Transformers 101", out=tmp_path_factory.mktemp("ordered") / "lesson")
    return render_lesson(config, jobs=1, chapters_module="test_author_look:NUMBERED")


@pytest.mark.render
def test_files_marks_and_page_follow_the_authors_order(ordered):
    out = ordered.out
    titles = [ch.title for ch in ordered.chapters]
    assert titles[0] == "Recap"
    # files
    for stem in ("01-recap", "02-concat"):
        assert (out / "chapters" / f"{stem}.mp4").is_file() and (out / "thumbs" / f"{stem}.png").is_file()
        assert (out / "chapters" / f"{stem}.vtt").is_file()
    assert not list(out.glob("chapters/12-*")) and not list(out.glob("chapters/06-*"))
    # chapter marks in the joined video
    with av.open(str(out / "lesson.mp4")) as video:
        marks = [c["metadata"].get("title") for c in video.chapters()]
    assert marks == [f"1. {titles[0]}", f"2. {titles[1]}", "3. About this lesson"]
    # the chapter track and the manifest
    assert "1. Recap" in (out / "chapters.vtt").read_text("utf-8")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert [(c["number"], c["id"]) for c in manifest["chapters"]] == [(1, "recap"), (2, "concat"), (3, "outro")]
    assert manifest["chapters"][0]["videos"]["mp4"] == "chapters/01-recap.mp4"
    # the page: the chapter list numbers them 1 and 2
    page = (out / "index.html").read_text("utf-8")
    nums = re.findall(r'<span class="num">(\d+)</span><span class="name">([^<]+)</span>', page)
    assert nums == [("1", titles[0]), ("2", titles[1]), ("3", "About this lesson")]
    assert "chapters/01-recap.mp4" in page


# -- 2. the course's name: on the title card and the page ---------------------------------------------------


def test_course_is_optional_and_checked():
    assert load_config().course is None
    assert load_config(course="  Transformers   101 ").course == "Transformers 101"
    with pytest.raises(ConfigError, match=r'course = "  " is empty; give the course\'s name'):
        load_config(course="  ")
    with pytest.raises(ConfigError, match=r"course is 121 characters long; keep it to 120 or fewer"):
        load_config(course="x" * 121)
    with pytest.raises(ConfigError, match=r"course = .* cannot draw: 猫"):
        load_config(course="猫の講座")


def test_course_is_in_the_intros_key_only():
    plain, named = load_config(**TOY), load_config(course="Transformers 101", **TOY)
    assert render_settings(named, "intro")["course"] == "Transformers 101"
    assert render_settings(plain, "intro") != render_settings(named, "intro")
    for cid in ("one-head", "concat", "recap"):
        assert render_settings(plain, cid) == render_settings(named, cid), cid


@pytest.mark.xdist_group("author-look-runs")
def test_the_title_card_names_the_course(headless):
    run = headless({**TOY, "course": "Transformers 101"}, "dark", "intro")
    assert "Transformers101" in run.drawn  # Manim's Text keeps its words without spaces in .text
    course = run.scene.state.course
    assert course is not None and course.original_text == "Transformers 101"
    plain = headless(TOY, "dark", "intro")
    assert plain.scene.state.course is None


def test_the_page_header_names_the_course(lesson_for):
    from test_page_words import render as page_of

    page = page_of(lesson_for(**TOY, course="Transformers 101"))
    assert '<p class="course">Transformers 101</p>' in page
    assert 'class="course"' not in page_of(lesson_for(**TOY))


# -- 3. the closing card: a short card after the last chapter, and on the page ------------------------------


def test_outro_is_a_table_of_three_optional_lines():
    config = load_config(outro={"author": " A.  Teacher "}, chapters="recap,concat")
    assert config.outro.lines() == {"author": "A. Teacher"}
    assert config.chapters == ("recap", "concat", "outro")  # the card plays after the author's chapters
    assert load_config(outro=OUTRO, chapters="outro,recap").chapters == ("outro", "recap")  # placed by the author
    for bad, message in [({"autor": "x"}, "has unknown key 'autor'; the closing card takes author, licence or link"),
                         ({}, "is empty; give the closing card at least one of author"),
                         ({"author": 3}, "has author = 3, which is not text; put it in quotes"),
                         ({"link": "my site"}, 'has link = "my site", which has spaces'),
                         ({"licence": "x" * 121}, "has a licence of 121 characters; keep it to 120 or fewer"),
                         ({"author": "猫"}, "which has characters the lesson's font (DejaVu Sans) cannot draw"),
                         ("CC BY", "is not a table")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(outro=bad)
    with pytest.raises(ConfigError, match='lists "outro", the closing card, but there is no outro table'):
        load_config(chapters="intro,outro")


def test_a_closing_card_of_one_line_is_on_the_page(lesson_for):
    from test_page_words import render as page_of

    page = page_of(lesson_for(**TOY, outro={"author": "A. Teacher"}))
    assert '<section class="outro"' in page and "A. Teacher" in page and "CC BY" not in page


def test_the_closing_card_has_its_own_key_and_changes_no_other():
    plain, closing = load_config(**TOY), load_config(outro=OUTRO, **TOY)
    assert render_settings(closing, "outro")["outro"] == OUTRO
    for cid in CHAPTER_IDS:
        assert render_settings(plain, cid) == render_settings(closing, cid), cid
    other = load_config(outro={**OUTRO, "licence": "CC BY-SA 4.0"}, **TOY)
    assert render_settings(other, "outro") != render_settings(closing, "outro")


def test_the_intro_plan_leaves_the_closing_card_out(lesson_for):
    lesson = lesson_for(**TOY, chapters=("intro", "recap"), outro=OUTRO)
    assert [n for n, _, _ in lesson.plan] == [1, 2]


@pytest.mark.xdist_group("author-look-runs")
def test_the_closing_card_shows_each_line_for_a_few_seconds(headless):
    run = headless({**TOY, "outro": OUTRO, "course": "Transformers 101"}, "dark", "outro")
    lines = run.scene.state.lines
    assert {k: v.original_text for k, v in lines.items()} == {
        "author": "Made by A. Teacher", "licence": "Licence: CC BY 4.0", "link": "https://example.org/course"}
    assert 4.0 <= run.scene.now <= 6.0  # a short card: 4.5 s at pacing 1 (its line read in a silent lesson)
    assert [b.text for b in run.beats] == ["Thank you for watching."]  # one short line, not the card read aloud


@pytest.mark.render
def test_the_closing_card_ends_the_video_and_the_page(ordered):
    outro = ordered.chapters[-1]
    assert outro.chapter_id == "outro" and 4.0 <= outro.duration <= 6.0
    assert (ordered.out / "chapters" / "03-outro.mp4").is_file()
    page = (ordered.out / "index.html").read_text("utf-8")
    assert "Made by A. Teacher" in page and "Licence: CC BY 4.0" in page
    assert '<a href="https://example.org/course">https://example.org/course</a>' in page
    assert '<p class="course">Transformers 101</p>' in page


# -- 4. a chapter's own pacing (chapter_pacing): in place of pacing for that chapter, in its key alone ------------


def test_chapter_pacing_replaces_the_lessons_pacing_for_its_chapters():
    config = load_config(pacing=1.25, chapter_pacing={"induction": 1, "recap": 0.8}, **TOY)
    assert config.chapter_pacing == (("induction", 1.0), ("recap", 0.8))  # the author's order
    assert config.model_dump()["chapter_pacing"] == {"induction": 1.0, "recap": 0.8}  # dumped as a table
    assert hash(config) and load_config(**config.model_dump(exclude={"out"})) == config
    assert [config.pacing_of(cid) for cid in ("induction", "recap", "intro")] == [1.0, 0.8, 1.25]
    assert load_config(**TOY).chapter_pacing is None and load_config(**TOY).pacing_of("intro") == 1.0
    # a silent lesson takes pacing's whole range, as pacing does
    assert load_config(voice="none", chapter_pacing={"cost": 3.5}, **TOY).pacing_of("cost") == 3.5


def test_chapter_pacing_is_in_its_chapters_key_only():
    plain = load_config(**TOY)
    slower = load_config(chapter_pacing={"induction": 1.2}, **TOY)
    assert render_settings(slower, "induction")["chapter_pacing"] == 1.2
    assert render_settings(plain, "induction") != render_settings(slower, "induction")
    for cid in CHAPTER_IDS:
        if cid != "induction":
            assert render_settings(plain, cid) == render_settings(slower, cid), cid
    other = load_config(chapter_pacing={"induction": 1.3}, **TOY)
    assert render_settings(other, "induction") != render_settings(slower, "induction")
    # the lesson's pacing stays in every chapter's key, overridden or not
    faster = load_config(pacing=1.1, chapter_pacing={"induction": 1.2}, **TOY)
    assert all(render_settings(faster, cid) != render_settings(slower, cid) for cid in CHAPTER_IDS)


@pytest.mark.xdist_group("author-look-runs")
def test_a_chapters_own_pacing_lengthens_it(headless):
    plain = headless({**TOY, "outro": OUTRO, "course": "Transformers 101"}, "dark", "outro")
    slow = headless({**TOY, "outro": OUTRO, "course": "Transformers 101", "voice": "none",
                     "chapter_pacing": {"outro": 2.0}}, "dark", "outro")
    assert slow.scene.pacing == 2.0 and plain.scene.pacing == 1.0
    assert slow.scene.now == pytest.approx(2 * plain.scene.now, rel=0.1)


@pytest.mark.render
def test_a_chapters_own_pacing_in_a_tiny_render(tmp_path):
    from scenes.render import render_lesson

    config = load_config(chapters=",".join(ORDER), pixel_height=144, fps=5, voice="none", **TOY,
                         chapter_pacing={"concat": 2.0}, out=tmp_path / "lesson")
    result = render_lesson(config, jobs=1, chapters_module="test_author_look:NUMBERED")
    recap, concat = result.chapters
    assert concat.chapter_id == "concat" and concat.duration == pytest.approx(2 * recap.duration, abs=0.3)
    assert "chapter_pacing = {concat = 2.0}" in config.to_toml()


# -- 5. the accent and the font: checked, drawn, on the page, in the keys -------------------------------------

ACCENT = {"dark": "#FFB000", "light": "#9A3412"}  # each reads on its theme's background and cards


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_accent_is_the_highlight_of_the_frames_and_the_page(theme, lesson_for):
    from test_page_words import render as page_of

    from scenes import style

    config = load_config(theme=theme, accent=ACCENT, **TOY)
    assert style.look(config).highlight == ACCENT[theme]
    assert style.look(load_config(theme=theme, **TOY)).highlight == style.theme(theme).highlight
    assert load_config(theme=theme, accent=ACCENT[theme].lower()).accent == ACCENT[theme]  # as "#RRGGBB"
    page = page_of(lesson_for(theme, **TOY, accent=ACCENT))
    assert f"--accent: {ACCENT[theme]};" in page


def test_an_accent_that_does_not_read_is_refused_with_its_measure():
    from scenes.lesson.colours import TEXT_CONTRAST, contrast

    for theme, colour in (("dark", "#9A3412"), ("light", "#FFB000")):
        ratio = min(contrast(colour, ground) for ground in (("#0F1218", "#1B202A") if theme == "dark"
                                                              else ("#FFFFFF", "#F3F5F8")))
        assert ratio < TEXT_CONTRAST
        with pytest.raises(ConfigError, match=rf'accent = "{colour}" has a contrast of {ratio:.2f}:1 against the '
                                              rf"{theme} theme's"):
            load_config(theme=theme, accent=colour)
    # a table's colour for the other theme is checked too (a course may render both)
    with pytest.raises(ConfigError, match=r"gives light #FFB000, which has a contrast of"):
        load_config(theme="dark", accent={"dark": "#FFB000", "light": "#FFB000"})
    assert load_config(theme="dark", accent={"dark": "#FFB000"}).accent_of("light") is None


def test_the_accent_drawn_is_in_every_chapter_key_and_no_other_colour():
    plain = load_config(**TOY)
    table = load_config(accent=ACCENT, **TOY)
    same_dark = load_config(accent={"dark": ACCENT["dark"], "light": "#7B2CBF"}, **TOY)
    for cid in CHAPTER_IDS:
        assert render_settings(table, cid) != render_settings(plain, cid), cid
        assert render_settings(table, cid) == render_settings(same_dark, cid), cid  # the light colour is not drawn


def test_the_font_must_be_installed_and_draw_every_word(tmp_path):
    from click.testing import CliRunner

    from cli import main
    from scenes.lesson.build import build_lesson
    from scenes.lesson.script import ScriptError

    assert load_config(font=" DejaVu  Serif ").font == "DejaVu Serif"
    with pytest.raises(ConfigError, match=r"font = \"No Such Family Xyz\" cannot be used: .* is not installed"):
        load_config(font="No Such Family Xyz")
    with pytest.raises(ConfigError, match=r'outro has author = "猫", which has characters the lesson\'s font '
                                          r"\(DejaVu Serif\) cannot draw"):
        load_config(font="DejaVu Serif", outro={"author": "猫"})
    # an author's words are checked in the lesson's font when the lesson is built and before a render
    words = tmp_path / "words"
    assert CliRunner().invoke(main, ["script", "export", str(words)]).exit_code == 0
    recap = words / "recap.toml"
    recap.write_text(recap.read_text("utf-8").replace('title = "Recap"', 'title = "Recap ⋱"'), "utf-8")
    assert 'title = "Recap ⋱"' in recap.read_text("utf-8")
    build_lesson(load_config(script=words, **TOY))  # DejaVu Sans has ⋱
    with pytest.raises(ScriptError, match=r"recap.toml: title has characters the lesson's font \(DejaVu Serif\) "
                                          r"cannot draw: ⋱ \(U\+22F1\)"):
        build_lesson(load_config(script=words, font="DejaVu Serif", **TOY))
    result = CliRunner().invoke(main, ["render", "--script", str(words), "--font", "DejaVu Serif", "--model", "toy",
                                       "--specialization-model", "toy", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "recap.toml: title has characters" in result.output, result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.xdist_group("author-look-runs")
def test_the_words_are_drawn_in_the_authors_font(headless):
    from scenes import style

    run = headless({**TOY, "font": "DejaVu Serif", "course": "Transformers 101"}, "dark", "intro")
    fonts = {font for font, _ in run.drawn_in}
    assert "DejaVu Serif" in fonts and fonts <= {"DejaVu Serif", style.MONO, style.FONT}
    in_sans = {text for font, text in run.drawn_in if font == style.FONT}
    assert all(set(text) <= set("⋮⋯⋱") for text in in_sans), in_sans  # only the symbols stay in DejaVu Sans


@reads_runs("default")
def test_every_character_a_chapter_draws_in_the_lessons_font_is_checked(headless, lesson_for):
    """What the font check asks of an author's font (the config's texts, the words, ``fonts.DRAWN_BY_CODE``) is
    everything the chapters draw in it: a character drawn from elsewhere would fail this test."""
    from scenes import style
    from scenes.lesson.fonts import DRAWN_BY_CODE
    from scenes.lesson.script import load_scripts

    lesson = lesson_for()
    scripts = load_scripts()
    asked = set(DRAWN_BY_CODE) | set(lesson.config.title) | set(lesson.config.sentence)
    for script in scripts.files.values():
        asked |= set(script.title) | set(script.summary)
        asked |= {c for line in (*script.beats.values(), *script.screen.values()) for c in line.text}
    unasked = {}
    for cid, overrides in itertools.product(CHAPTER_IDS, ({}, TOY)):  # runs the layout tests share
        for font, text in headless(overrides, "dark", cid).drawn_in:
            if font == style.FONT:  # the lesson's font here (an author's font draws the same texts)
                for c in text:
                    if not c.isascii() and not c.isspace() and c not in asked and c not in "⋮⋯⋱":
                        unasked.setdefault(c, cid)
    assert not unasked, f"drawn in the lesson's font but not asked of it (add to fonts.DRAWN_BY_CODE): {unasked}"


def test_the_course_page_takes_the_accent_its_lessons_share():
    from types import SimpleNamespace

    from scenes import style
    from scenes.render.course import course_page

    def page(*accents):
        configs = [load_config(accent=accent, **TOY) for accent in accents]
        plan = SimpleNamespace(course=SimpleNamespace(title="A course"),
                               lessons=[SimpleNamespace(lesson=SimpleNamespace(config=c)) for c in configs])
        lessons = [{"theme": "dark", "title": "T", "sentence": c.sentence, "page": f"l{i}/index.html", "poster": None,
                    "settings": {}, "chapters": [], "video": {"duration": 60.0, "width": 256, "height": 144,
                                                              "fps": 5}} for i, c in enumerate(configs)]
        return course_page(plan, lessons)

    assert "--accent: #FFB000;" in page(ACCENT, "#FFB000")  # one look: the author's accent
    assert f"--accent: {style.DARK.highlight};" in page(ACCENT, None)  # two looks: the theme's own


def test_config_show_says_what_an_unset_accent_and_font_mean():
    from click.testing import CliRunner

    from cli import main

    shown = CliRunner().invoke(main, ["config", "show"]).output
    assert '# accent = "#FFB000"  # unset: the theme\'s own' in shown
    assert '# font = "DejaVu Serif"  # unset: DejaVu Sans' in shown


def test_the_default_words_are_drawable_in_the_default_font():
    """What ``script.check_font`` takes as known (it skips the default words in the default font)."""
    from scenes.lesson.author_text import font_problem
    from scenes.lesson.fonts import FONT
    from scenes.lesson.script import PAGE, load_scripts

    problems = {}
    for script in load_scripts().files.values():
        if script.name == PAGE:
            continue
        for words in (script.title, script.summary, *(line.text for line in (*script.beats.values(),
                                                                             *script.screen.values()))):
            if font_problem(words, FONT):
                problems[script.name] = font_problem(words, FONT)
    assert not problems
