"""The lesson folder's index.html in a real headless browser (Debian's chromium + chromedriver).

Opened as file://, the way a course author double-clicks it: the video loads,
captions and chapter tracks have cues, clicking a chapter seeks, the layout fits
a phone. Skips only where no browser is installed (``make test-deps`` installs one).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from browser import open_page, set_viewport, severe_errors, wait_for_video

pytestmark = [pytest.mark.browser, pytest.mark.render]

CHAPTERS = ("intro", "concat")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    # The same small render as test_export (same config, same folder: the render cache makes it cheap there).
    from test_export import render_small_lesson

    result = render_small_lesson(tmp_path_factory.getbasetemp())  # renders and writes the lesson folder
    return result, result, json.loads(result.manifest.read_text("utf-8"))


def test_video_loads_with_captions_and_chapter_tracks(browser, lesson, tmp_path):
    result, folder, manifest = lesson
    state = open_page(browser, folder)
    assert state["error"] is None and state["ready"] >= 1
    assert state["src"].endswith("/lesson.mp4")  # mp4 is offered first and this browser plays it
    assert state["duration"] == pytest.approx(manifest["video"]["duration"], abs=0.25)

    tracks = browser.execute_script("""
        const v = document.getElementById('lesson');
        return Array.from(v.textTracks).map(t => {
            if (t.mode === 'disabled') t.mode = 'hidden';   // load the chapters track too
            return t.kind; });
    """)
    assert tracks == ["captions", "chapters"]
    time.sleep(0.5)
    cues = browser.execute_script("""
        return Array.from(document.getElementById('lesson').textTracks).map(
            t => Array.from(t.cues || []).map(c => [c.startTime, c.endTime, c.text]));
    """)
    expected = sum(c["cues"] for c in manifest["chapters"])
    assert expected > 0 and len(cues[0]) == expected
    assert all(0 <= s < e <= state["duration"] + 1e-3 for s, e, _ in cues[0])
    assert [(s, e) for s, e, _ in cues[1]] == [pytest.approx((c["start"], c["end"]), abs=1e-3)
                                              for c in manifest["chapters"]]
    first_cue = result.chapters[0].cues[0].text
    assert cues[0][0][2] == first_cue  # its two caption lines, as written

    errors = severe_errors(browser)
    assert not errors, errors  # e.g. a caption file blocked on file://, a missing image
    shot = tmp_path / "page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_clicking_a_chapter_seeks_the_video(browser, lesson):
    _, folder, manifest = lesson
    open_page(browser, folder)
    target = manifest["chapters"][1]
    browser.execute_script("""
        const v = document.getElementById('lesson');
        window.seekedAt = null;
        v.addEventListener('seeked', () => { window.seekedAt = v.currentTime; }, {once: true});
    """)
    buttons = browser.find_elements("css selector", "button.chapter")
    assert [b.get_attribute("data-start") for b in buttons] == [f"{c['start']:.3f}" for c in manifest["chapters"]]
    buttons[1].click()
    for _ in range(100):
        seeked = browser.execute_script("return window.seekedAt")
        if seeked is not None:
            break
        time.sleep(0.05)
    assert seeked == pytest.approx(target["start"], abs=0.25)
    time.sleep(0.5)
    state = browser.execute_script("""
        const v = document.getElementById('lesson');
        return {t: v.currentTime, frames: v.webkitDecodedFrameCount, width: v.videoWidth,
                current: Array.from(document.querySelectorAll('button.chapter')).map(b => b.getAttribute('aria-current'))};
    """)
    assert state["frames"] > 0 and state["width"] == manifest["video"]["width"]  # really decoded, not just parsed
    assert target["start"] - 0.05 <= state["t"] <= target["end"]
    assert state["current"] == ["false", "true"]


def test_a_link_to_a_chapter_opens_there(browser, lesson):
    _, folder, manifest = lesson
    target = manifest["chapters"][-1]
    browser.get("about:blank")  # a fresh load, not a hash change on the open page
    browser.get(folder.index.as_uri() + "#" + target["id"])
    t = browser.execute_async_script("""
        const done = arguments[arguments.length - 1], v = document.getElementById('lesson');
        const check = () => (v.readyState >= 1 && v.currentTime > 0) ? done(v.currentTime) : setTimeout(check, 50);
        check();
    """)
    assert t == pytest.approx(target["start"], abs=0.25)


def test_a_transcript_time_plays_from_there_with_the_video_in_view(browser, lesson):
    _, folder, _ = lesson
    open_page(browser, folder, width=800, height=450)  # a short window: the transcript is far below the video
    browser.execute_script("document.querySelector('details.transcript').open = true")
    times = browser.find_elements("css selector", ".transcript a.time")
    assert times
    last = times[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'end'});", last)
    assert browser.execute_script("return document.getElementById('lesson').getBoundingClientRect().bottom") < 0
    last.click()
    for _ in range(100):
        if browser.execute_script("return document.getElementById('lesson').currentTime") > 0:
            break
        time.sleep(0.05)
    assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
        float(last.get_attribute("data-start")), abs=0.5)
    top = browser.execute_script("return document.getElementById('lesson').getBoundingClientRect().top")
    assert 0 <= top < browser.execute_script("return window.innerHeight") / 2  # back in view, at the top


def test_page_shows_the_config_text_and_chapter_summaries(browser, lesson):
    result, folder, manifest = lesson
    open_page(browser, folder)
    text = browser.execute_script("""
        return {h1: document.querySelector('h1').textContent,
                names: Array.from(document.querySelectorAll('.chapter .name')).map(e => e.textContent),
                summaries: Array.from(document.querySelectorAll('.chapter .summary')).map(e => e.textContent),
                images: Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)};
    """)
    assert text["h1"] == result.config.title
    assert text["names"] == [ch.title for ch in result.chapters]
    assert text["summaries"] == [ch.summary for ch in result.chapters]
    assert all(text["images"])


@pytest.mark.parametrize(("width", "height", "mobile"), [(390, 844, True), (1366, 900, False)])
def test_layout_fits_phone_and_laptop(browser, lesson, tmp_path, width, height, mobile):
    _, folder, _ = lesson
    open_page(browser, folder, width, height, mobile)
    box = browser.execute_script("""
        const v = document.getElementById('lesson').getBoundingClientRect();
        const list = document.querySelector('nav.chapters').getBoundingClientRect();
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                video: [v.left, v.right, v.width], list: [list.left, list.top, v.bottom]};
    """)
    # (a phone widens its layout viewport to fit wide content, so compare with the screen's width)
    assert box["inner"] == width and box["scroll"] <= width, "the page is wider than the screen"
    assert 0 <= box["video"][0] and box["video"][1] <= width and box["video"][2] > 0.5 * min(width, 900)
    if mobile:  # chapters below the video
        assert box["list"][1] >= box["list"][2]
    else:  # chapters beside it
        assert box["list"][0] >= box["video"][1]
    browser.save_screenshot(str(tmp_path / f"page-{width}.png"))


# -- presenter mode ------------------------------------------------------------------------------------


def _press(browser, key):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(key).perform()


def _wait_paused(browser, timeout=30.0):
    """The video's time once it has stopped by itself (presenter mode pauses it at the end of a beat)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = browser.execute_script("const v = document.getElementById('lesson'); "
                                       "return {paused: v.paused, t: v.currentTime, seeking: v.seeking};")
        if state["paused"] and not state["seeking"]:
            return state["t"]
        time.sleep(0.05)
    raise AssertionError("the video did not stop at the end of the beat")


def test_presenter_mode_steps_beat_by_beat(browser, lesson):
    from selenium.webdriver.common.keys import Keys

    _, folder, manifest = lesson
    open_page(browser, folder, hash="#present")
    frame = 1 / manifest["video"]["fps"]
    steps = browser.execute_script("return JSON.parse(document.getElementById('lesson-data').textContent).beats")
    # One step per spoken beat, from the folder's transcript; a chapter's first step starts with the chapter.
    beats = json.loads((folder.manifest.parent / "transcript.json").read_text("utf-8"))
    starts = {c["id"]: c["start"] for c in manifest["chapters"]}
    assert [s["text"] for s in steps] == [b["text"] for b in beats]
    first = {c["id"]: min(i for i, s in enumerate(steps) if s["chapter"] == c["id"]) for c in manifest["chapters"]}
    for i, (s, b) in enumerate(zip(steps, beats)):
        expected = starts[s["chapter"]] if i == first[s["chapter"]] else b["start"]
        assert s["start"] == pytest.approx(expected, abs=1e-3)
    assert all(a["end"] == b["start"] for a, b in zip(steps, steps[1:]))
    assert browser.find_element("id", "present-button").get_attribute("aria-pressed") == "true"
    # The link opens the page at its top, the video in view (not scrolled to an element named "present").
    assert browser.execute_script("return window.scrollY") == 0

    _press(browser, Keys.ARROW_RIGHT)  # the first beat plays, and stops at its end
    assert _wait_paused(browser) == pytest.approx(steps[0]["end"], abs=frame)
    notes = browser.find_element("id", "notes")
    assert notes.is_displayed() and browser.find_element("id", "notes-said").text == steps[0]["text"]

    _press(browser, Keys.SPACE)  # the next beat, from its start
    assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
        steps[1]["start"], abs=frame)
    assert _wait_paused(browser) == pytest.approx(steps[1]["end"], abs=frame)
    assert browser.find_element("id", "notes-said").text == steps[1]["text"]

    _press(browser, Keys.PAGE_UP)  # back one beat
    assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
        steps[0]["start"], abs=frame)
    _press(browser, "2")  # chapter 2's first beat
    assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
        starts[manifest["chapters"][1]["id"]], abs=frame)
    _press(browser, "[")  # the previous chapter, then the next: any chapter is reachable, the tenth and on too
    assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
        starts[manifest["chapters"][0]["id"]], abs=frame)
    _press(browser, "]")
    assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
        starts[manifest["chapters"][1]["id"]], abs=frame)
    _press(browser, "n")  # the notes off the projector
    assert not notes.is_displayed()
    errors = severe_errors(browser)
    assert not errors, errors


def _speaker_text(browser, element_id, wanted=None, timeout=10.0):
    """An element's text in the open window, once it is ``wanted`` (or not empty)."""
    deadline = time.monotonic() + timeout
    while True:
        text = browser.execute_script("const e = document.getElementById(arguments[0]); return e && e.textContent;",
                                      element_id)
        if (text == wanted if wanted is not None else text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def _new_window(browser, known, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [h for h in browser.window_handles if h not in known]
        if new:
            return new[0]
        time.sleep(0.05)
    raise AssertionError("no second window opened")


def test_speaker_view_follows_the_projected_page_and_drives_it(browser, lesson):
    """Presenter mode's S key opens the speaker view (index.html#speaker) in a second window: the beat being said,
    the next one, the time; its keys and buttons drive the projected page, and it follows that page however it
    moves on (its own keys, a chapter clicked). The two talk by postMessage, from file:// as here."""
    from selenium.webdriver.common.keys import Keys

    _, folder, manifest = lesson
    open_page(browser, folder, hash="#present")
    frame = 1 / manifest["video"]["fps"]
    steps = browser.execute_script("return JSON.parse(document.getElementById('lesson-data').textContent).beats")
    words = browser.execute_script("return JSON.parse(document.getElementById('speaker-words').textContent)")
    projected = browser.current_window_handle
    button = browser.find_element("id", "speaker-button")
    assert button.is_displayed()  # presenter mode shows its button (the key is S)
    _press(browser, "s")
    speaker = _new_window(browser, [projected])
    try:
        browser.switch_to.window(speaker)
        assert browser.current_url.endswith("index.html#speaker")
        # Before any beat: nothing said yet, the first beat next; no video here (the projector plays it).
        assert _speaker_text(browser, "sp-next-said", steps[0]["text"]) == steps[0]["text"]
        assert browser.execute_script("return document.getElementById('lesson')") is None
        assert browser.find_element("id", "speaker").is_displayed()
        assert browser.execute_script("return document.querySelector('.page')") is None  # the speaker view alone
        assert browser.title.startswith("Speaker view")

        _press(browser, Keys.ARROW_RIGHT)  # the speaker's key plays the first beat on the projected page
        assert _speaker_text(browser, "sp-said", steps[0]["text"]) == steps[0]["text"]
        assert _speaker_text(browser, "sp-next-said", steps[1]["text"]) == steps[1]["text"]
        assert browser.find_element("id", "sp-where").text.endswith(f"beat 1 of {len(steps)}")
        browser.switch_to.window(projected)
        assert _wait_paused(browser) == pytest.approx(steps[0]["end"], abs=frame)
        assert not browser.find_element("id", "notes").is_displayed()  # the notes left the room's screen

        _press(browser, Keys.SPACE)  # the projected page's own key: the speaker view follows
        browser.switch_to.window(speaker)
        assert _speaker_text(browser, "sp-said", steps[1]["text"]) == steps[1]["text"]
        assert _speaker_text(browser, "sp-status", words["speaker-stopped"], timeout=30) == words["speaker-stopped"]
        for _ in range(60):  # the clock runs from the first beat played
            elapsed = browser.find_element("id", "sp-elapsed").text
            if elapsed != "0:00":
                break
            time.sleep(0.05)
        assert re.fullmatch(r"0:0[1-9]|0:[1-5]\d", elapsed), elapsed
        assert browser.find_element("id", "sp-position").text.startswith("lesson at 0:")

        second = manifest["chapters"][1]
        first_of_second = min(i for i, s in enumerate(steps) if s["chapter"] == second["id"])
        browser.find_element("css selector", "#speaker button[data-key=']']").click()  # a button: next chapter
        assert _speaker_text(browser, "sp-said", steps[first_of_second]["text"]) == steps[first_of_second]["text"]
        browser.switch_to.window(projected)
        assert browser.execute_script("return document.getElementById('lesson').currentTime") == pytest.approx(
            second["start"], abs=0.25)
        browser.find_element("css selector", "button.chapter").click()  # a chapter clicked on the projected page
        browser.switch_to.window(speaker)
        assert _speaker_text(browser, "sp-said", steps[0]["text"]) == steps[0]["text"]

        notes = browser.find_element("id", "sp-room-notes")  # the notes back on the projector, from here
        assert notes.get_attribute("aria-pressed") == "false"
        notes.click()
        for _ in range(100):
            if notes.get_attribute("aria-pressed") == "true":
                break
            time.sleep(0.05)
        assert notes.get_attribute("aria-pressed") == "true"
        browser.switch_to.window(projected)
        assert browser.find_element("id", "notes").is_displayed()
        assert not severe_errors(browser)
        browser.switch_to.window(speaker)
        assert not severe_errors(browser)
    finally:
        if speaker in browser.window_handles:
            browser.switch_to.window(speaker)
            browser.close()
        browser.switch_to.window(projected)

    # Opened alone (no lesson page opened it), it says where to open it from.
    browser.get("about:blank")
    browser.get(folder.index.as_uri() + "#speaker")
    assert _speaker_text(browser, "sp-status", words["speaker-alone"]) == words["speaker-alone"]


# -- the page for an iframe ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height", "mobile"), [(360, 203, True), (960, 540, False)])
def test_embed_page_is_the_video_alone_filling_its_frame(browser, lesson, tmp_path, width, height, mobile):
    _, folder, manifest = lesson
    set_viewport(browser, width, height, mobile)
    browser.get("about:blank")
    browser.get((folder.out / manifest["lesson"]["embed"]).as_uri())
    state = browser.execute_async_script("""
        const done = arguments[arguments.length - 1], v = document.getElementById('lesson');
        const report = () => {
            const box = v.getBoundingClientRect();
            Array.from(v.textTracks).forEach(t => { if (t.mode === 'disabled') t.mode = 'hidden'; });
            done({ready: v.readyState, duration: v.duration, src: v.currentSrc, kinds: Array.from(v.textTracks).map(t => t.kind),
                  box: [box.left, box.top, box.width, box.height], scroll: [document.documentElement.scrollWidth,
                  document.documentElement.scrollHeight],
                  // drawn chrome (the h1 for screen readers is 1 px, clipped)
                  chrome: Array.from(document.querySelectorAll('h1, nav, header, footer')).filter(e => {
                      const r = e.getBoundingClientRect(); return r.width > 1 && r.height > 1; }).length,
                  h1: document.querySelector('h1') && document.querySelector('h1').textContent});
        };
        if (v.readyState >= 1) report(); else v.addEventListener('loadedmetadata', report, {once: true});
    """)
    assert state["ready"] >= 1 and state["src"].endswith("/lesson.mp4")
    assert state["duration"] == pytest.approx(manifest["video"]["duration"], abs=0.25)
    assert state["kinds"] == ["captions", "chapters"]
    assert state["chrome"] == 0, "no page chrome around the video"
    assert state["h1"] == manifest["config"]["title"]  # but a title for screen readers
    assert state["box"] == pytest.approx([0, 0, width, height], abs=1)  # the whole frame, no scrolling
    assert state["scroll"] == [width, height]
    time.sleep(0.5)
    cues = browser.execute_script("return Array.from(document.getElementById('lesson').textTracks)"
                                  ".map(t => (t.cues || []).length)")
    assert cues == [sum(c["cues"] for c in manifest["chapters"]), len(manifest["chapters"])]
    errors = severe_errors(browser)
    assert not errors, errors
    browser.save_screenshot(str(tmp_path / f"embed-{width}.png"))


def test_embed_page_has_a_chapter_menu_and_takes_deep_links(browser, lesson):
    """The embed's chapter menu lists every chapter and seeks to the one chosen; embed.html#t=SECONDS and
    embed.html#CHAPTER-ID open there; the menu is out of the layout and hidden while the lesson plays."""
    from selenium.webdriver.support.ui import Select

    _, folder, manifest = lesson
    embed = (folder.out / manifest["lesson"]["embed"]).as_uri()
    chapters = manifest["chapters"]

    def opened(url):
        browser.get("about:blank")
        browser.get(url)
        return wait_for_video(browser)

    def now():
        for _ in range(100):  # the seek lands once the metadata is in
            t = browser.execute_script("return document.getElementById('lesson').currentTime")
            if t > 0:
                return t
            time.sleep(0.05)
        return 0.0

    set_viewport(browser, 960, 540)
    opened(embed)
    menu = Select(browser.find_element("id", "chapter-menu"))
    assert [o.text for o in menu.options] == [f"{c['number']}. {c['title']}" for c in chapters]
    assert menu.first_selected_option.get_attribute("value") == chapters[0]["id"]
    menu.select_by_value(chapters[1]["id"])
    assert now() == pytest.approx(chapters[1]["start"], abs=0.05)
    opened(embed + "#t=2.5")
    assert now() == pytest.approx(2.5, abs=0.05)
    opened(embed + "#" + chapters[1]["id"])
    assert now() == pytest.approx(chapters[1]["start"], abs=0.05)
    box = browser.execute_script("return document.getElementById('lesson').getBoundingClientRect().height")
    assert box == pytest.approx(540, abs=1)  # the menu takes no room from the video
    opacity = "return getComputedStyle(document.querySelector('.chapter-menu')).opacity"
    for _ in range(40):  # its 0.2 s fade in after the page opened, slower on a busy machine
        if browser.execute_script(opacity) == "1":
            break
        time.sleep(0.05)
    assert browser.execute_script(opacity) == "1"  # paused: shown
    browser.execute_script("document.getElementById('lesson').muted = true; document.getElementById('lesson').play()")
    browser.execute_script("document.body.dispatchEvent(new MouseEvent('mouseleave'))")
    for _ in range(60):
        if not browser.execute_script("return document.getElementById('lesson').paused"):
            break
        time.sleep(0.05)
    time.sleep(0.4)  # its fade
    assert browser.execute_script("return document.body.classList.contains('paused')") is False
    errors = severe_errors(browser)
    assert not errors, errors


# -- the head explorer ---------------------------------------------------------------------------------


def _explorer_table(browser):
    """The explorer's numbers as the page shows them: caption, and per cell (head, key, full value, text)."""
    return browser.execute_script("""
        const rows = document.getElementById('ex-rows');
        return {caption: rows.querySelector('caption').textContent,
                cells: Array.from(rows.querySelectorAll('td.w')).map(td => [parseInt(td.dataset.head, 10),
                       parseInt(td.dataset.key, 10), td.dataset.weight, td.querySelector('.n').textContent]),
                query: Array.from(document.querySelectorAll('#ex-tokens button')).findIndex(
                       b => b.getAttribute('aria-pressed') === 'true'),
                heading: (document.querySelector('#ex-note h3') || {}).textContent || null,
                evidence: Array.from(document.querySelectorAll('#ex-note p, #ex-note dd')).map(e => e.textContent)};
    """)


def _assert_numbers(table, weights, layer, heads, query):
    """Every number shown is the file's float32 value: in full in data-weight, to 2 decimals on screen."""
    n = weights.shape[-1]
    assert [(h, k) for h, k, _, _ in table["cells"]] == [(h, k) for k in range(n) for h in heads]
    for h, k, full, text in table["cells"]:
        value = float(weights[layer, h, query, k])
        assert float(full) == value, (layer, h, query, k)
        assert abs(float(text) - value) <= 0.005 + 1e-9 and len(text.split(".")[1]) == 2


def test_explorer_shows_the_numbers_in_the_tensor_files(browser, lesson):
    from safetensors import safe_open
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from mha_core.induction import load_induction_model

    _, folder, _ = lesson
    open_page(browser, folder)
    data = browser.execute_script("return JSON.parse(document.getElementById('explorer-data').textContent)")
    assert [m["id"] for m in data["models"]] == ["toy", "induction"]  # the small lesson: toy model, no MiniLM
    scores = load_induction_model().scores
    model_select = Select(browser.find_element("id", "ex-model"))
    for index, m in enumerate(data["models"]):
        model_select.select_by_index(index)
        # It opens each model at what the video works through (its layer, head and word).
        start = _explorer_table(browser)
        assert start["query"] == m["start"]["query"]
        assert Select(browser.find_element("id", "ex-head")).first_selected_option.get_attribute("value") == str(
            m["start"]["head"])
        with safe_open(str(folder.out / m["file"]), "pt") as f:  # what the folder holds, read independently
            weights = f.get_tensor(m["tensor"])
            tokens = f.metadata()["tokens"].split("\x1f")
        if weights.dim() == 3:  # one layer's trace: [head, query, key]
            weights = weights.unsqueeze(0)
        assert list(weights.shape) == m["shape"] and tokens == m["tokens"]
        layer_select = Select(browser.find_element("id", "ex-layer"))
        head_select = Select(browser.find_element("id", "ex-head"))
        assert len(layer_select.options) == weights.shape[0] and len(head_select.options) == weights.shape[1] + 1
        seen = set()
        for layer in range(weights.shape[0]):
            layer_select.select_by_index(layer)
            for head in range(weights.shape[1]):
                head_select.select_by_value(str(head))
                buttons = browser.find_elements("css selector", "#ex-tokens button")
                assert [b.text for b in buttons] == tokens
                for query in (0, len(tokens) - 1, (head * 5 + layer) % len(tokens)):
                    buttons[query].click()  # a tap on a token
                    table = _explorer_table(browser)
                    assert table["query"] == query and f"\u201c{tokens[query]}\u201d" in table["caption"]
                    _assert_numbers(table, weights, layer, [head], query)
                    seen.add(tuple(t for _, _, t, _ in table["cells"]))
                # The head's label and the measurement behind it.
                label = "untrained" if m["id"] == "toy" else (scores.label(layer, head) or "no label")
                named = {"previous-token": "previous token", "two-back": "two back"}.get(label, label)  # as drawn
                assert table["heading"] == f"Layer {layer + 1}, head {head + 1}: {named}"
                if m["id"] == "induction":
                    score = {"previous-token": scores.previous_token, "two-back": scores.two_back,
                             "induction": scores.induction}.get(label, scores.induction)[layer][head]
                    assert f"{score:.2f}" in table["evidence"][0]
        assert len(seen) > weights.shape[0] * weights.shape[1]  # changing head and token changed the numbers
        # Every head of a layer side by side: one column per head.
        head_select.select_by_value("all")
        layer = weights.shape[0] - 1
        layer_select.select_by_index(layer)
        table = _explorer_table(browser)
        _assert_numbers(table, weights, layer, list(range(weights.shape[1])), table["query"])
        assert len(browser.find_elements("css selector", ".ex-tiles button")) == weights.shape[1]
        assert len(table["evidence"]) == weights.shape[1]
        # Keyboard: the arrow keys move the query along the tokens.
        head_select.select_by_value("0")
        token = browser.find_elements("css selector", "#ex-tokens button")[0]
        token.click()
        token.send_keys(Keys.ARROW_RIGHT)
        table = _explorer_table(browser)
        assert table["query"] == 1 and browser.switch_to.active_element.text == tokens[1]
        _assert_numbers(table, weights, layer, [0], 1)
        # A mouse over a token shows its row too.
        ActionChains(browser).move_to_element(browser.find_elements("css selector", "#ex-tokens button")[2]).perform()
        _assert_numbers(_explorer_table(browser), weights, layer, [0], 2)
    errors = severe_errors(browser)
    assert not errors, errors


def test_explorer_fits_a_phone(browser, lesson, tmp_path):
    """At 390 px every label of the explorer is whole (no text cut off: its scroll size is its box), the page does
    not scroll sideways, the controls are in the screen and large enough to tap, and its text is readable."""
    from selenium.webdriver.support.ui import Select

    _, folder, _ = lesson
    open_page(browser, folder, 390, 844, mobile=True)
    measure = """
        const ex = document.getElementById('explorer'), grid = document.querySelector('.ex-grid');
        const doc = document.documentElement;
        ex.scrollIntoView();
        const e = ex.getBoundingClientRect(), box = (grid ? grid.parentNode : ex).getBoundingClientRect();
        const labels = Array.from(ex.querySelectorAll(['.ex-grid .key', '.ex-grid .query', '.ex-grid .axis',
            '#ex-tokens button', '.ex-tiles .name', '.ex-tiles .label', '.ex-tiles .top', '#ex-note h3', '#ex-note dt',
            '.ex-scale span', 'label'].join(', ')));
        return {scroll: [doc.scrollWidth, doc.clientWidth, document.body.scrollWidth], explorer: [e.left, e.right],
                box: [box.left, box.right],
                clipped: labels.filter(l => l.scrollWidth > l.clientWidth + 0.5
                                            || l.scrollHeight > l.clientHeight + 0.5)
                               .map(l => [l.className || l.tagName, l.textContent, l.scrollWidth, l.clientWidth,
                                          l.scrollHeight, l.clientHeight]),
                // every label's box is inside the grid's own box (a long sentence scrolls there, never the page)
                outside: labels.filter(l => { const r = l.getBoundingClientRect();
                                              return r.width && (r.left < 0 || r.right > innerWidth + 0.5); })
                               .filter(l => !l.closest('.ex-grid-box')).map(l => l.textContent),
                smallest: Math.min(...labels.map(l => parseFloat(getComputedStyle(l).fontSize))),
                keys: Array.from(ex.querySelectorAll('.ex-grid .key')).map(k => k.textContent),
                controls: Array.from(ex.querySelectorAll('select, #ex-tokens button')).every(c => {
                    const r = c.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && r.height >= 24; })};
    """
    model = Select(browser.find_element("id", "ex-model"))
    for index in range(len(model.options)):
        model.select_by_index(index)
        for head in ("0", "all"):
            Select(browser.find_element("id", "ex-head")).select_by_value(head)
            box = browser.execute_script(measure)
            where = f"{model.options[index].text}, head {head}"
            assert box["scroll"][0] <= 390 and box["scroll"][0] <= box["scroll"][1], \
                f"{where}: the page is wider than the phone"
            assert box["scroll"][2] <= 390, where
            assert 0 <= box["explorer"][0] and box["explorer"][1] <= 390, where
            assert 0 <= box["box"][0] and box["box"][1] <= 390, where
            assert not box["clipped"], f"{where}: labels cut off: {box['clipped']}"
            assert not box["outside"], f"{where}: labels outside the screen: {box['outside']}"
            assert box["smallest"] >= 12, f"{where}: text of {box['smallest']} px"
            assert box["controls"], f"{where}: a control is cut off or too small to tap"
            if head == "0":  # the one-head grid: every key labelled, whole
                tokens = browser.execute_script(
                    "return Array.from(document.querySelectorAll('#ex-tokens button')).map(b => b.textContent)")
                assert box["keys"] == tokens, where
                browser.find_element("id", "explorer").screenshot(str(tmp_path / f"explorer-390-{index}.png"))


def test_the_page_writes_the_video_s_arrows(browser, lesson):
    """Where the video draws an arrow (→, ↓), the page writes it too: no "->" in any text a reader sees or hears
    (text, options, labels for screen readers), the explorer's included, in every model and head."""
    from selenium.webdriver.support.ui import Select

    _, folder, _ = lesson
    open_page(browser, folder)
    seen = """
        document.querySelectorAll('details').forEach(d => { d.open = true; });
        const texts = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode())
            if (!n.parentNode.closest('script, style')) texts.push(n.textContent);
        document.querySelectorAll('[aria-label], [alt], [title], [data-title]').forEach(e =>
            ['aria-label', 'alt', 'title', 'data-title'].forEach(a => e.hasAttribute(a)
                                                                        && texts.push(e.getAttribute(a))));
        texts.push(document.title);
        return texts.filter(t => t.includes('->'));
    """
    model = Select(browser.find_element("id", "ex-model"))
    for index in range(len(model.options)):
        model.select_by_index(index)
        for head in ("all", "0"):
            Select(browser.find_element("id", "ex-head")).select_by_value(head)
            assert browser.execute_script(seen) == []
    axis = browser.execute_script("return document.querySelector('.ex-grid .axis').textContent")
    assert "\u2193" in axis and "\u2192" in axis
