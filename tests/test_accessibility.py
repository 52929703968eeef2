"""Accessibility of the lesson folder's pages: axe-core (bundled by ``axe-selenium-python``) run in the
headless Chromium of the page tests, on the player page (laptop and phone), presenter mode and its speaker
view, embed.html and the head explorer, in the light and the dark theme.

A page passes when axe reports no violation of impact "serious" or "critical"; the failure message lists
each one (rule, impact, elements, why). Moderate and minor ones are printed (``pytest -s``), not failed.
Skips only where no browser is installed (``make test-deps`` installs one).
"""

from __future__ import annotations

import time

import pytest
from browser import open_page, severe_errors

pytestmark = [pytest.mark.browser, pytest.mark.render]

SEVERE = ("serious", "critical")
# axe's default rule set (WCAG 2 A/AA and best practices; experimental rules off). Passes come back with
# one element each, to keep the results small.
RUN_OPTIONS = {"resultTypes": ["violations", "incomplete"]}


def render_dark_lesson(base):
    """The small lesson of test_export, in the dark theme (its own lesson folder), mp4 only: the page is the same,
    and a WebM of each chapter would cost a fifth of this module's time."""
    from test_export import CHAPTERS

    from scenes.lesson.config import load_config
    from scenes.render import render_lesson

    config = load_config(
        chapters=",".join(CHAPTERS), pixel_height=144, fps=5, formats=("mp4",),
        theme="dark", model="toy", specialization_model="toy", out=base / "r2-lesson-dark",
    )
    return render_lesson(config, jobs=2)


@pytest.fixture(scope="module", params=["light", "dark"])
def folder(request, tmp_path_factory):
    """A rendered lesson folder in each theme (light: the same render as test_export, cached there)."""
    from test_export import render_small_lesson

    render = render_small_lesson if request.param == "light" else render_dark_lesson
    result = render(tmp_path_factory.getbasetemp())
    assert result.config.theme == request.param
    return result


# -- running axe ----------------------------------------------------------------------------------

def run_axe(browser, context=None) -> dict:
    """axe-core's results on the open page (or the part ``context`` selects)."""
    from axe_selenium_python import Axe

    Axe(browser).inject()
    browser.set_script_timeout(120)  # two shared cores: a full run takes a few seconds, more under load
    results = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(arguments[0] || document, arguments[1])
           .then(r => done({violations: r.violations, passes: r.passes.map(p => p.id),
                            incomplete: r.incomplete.map(i => [i.id, i.impact, i.nodes.length]),
                            version: (r.testEngine && r.testEngine.version) || axe.version, url: r.url}),
                 e => done({error: String(e)}));
    """, context, RUN_OPTIONS)
    assert "error" not in results, f"axe-core failed to run: {results.get('error')}"
    return results


def describe(violations) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  [{v.get('helpUrl', '')}]")
        for node in v["nodes"]:
            why = "; ".join(c["message"] for kind in ("any", "all", "none") for c in node.get(kind, []))
            lines.append(f"    {' '.join(map(str, node['target']))}: {why}")
    return "\n".join(lines)


def assert_accessible(browser, where: str, context=None) -> dict:
    results = run_axe(browser, context)
    label = f"{where}, axe-core {results['version']}"
    # axe ran: it checked rules and some passed (an empty page, or no axe at all, passes nothing).
    assert len(results["passes"]) >= 5, f"{label}: axe passed only {results['passes']}"
    severe = [v for v in results["violations"] if v["impact"] in SEVERE]
    lesser = [v for v in results["violations"] if v["impact"] not in SEVERE]
    print(f"\n{label}: {len(results['passes'])} rules passed, {len(severe)} serious/critical, "
          f"{len(lesser)} moderate/minor violations")
    if lesser:
        print(describe(lesser))
    if results["incomplete"]:  # what axe could not decide alone (e.g. text over an image): for a person to check
        print("  needs review:", ", ".join(f"{rule} ({impact}, {n} elements)" for rule, impact, n in results["incomplete"]))
    assert not severe, f"{label}: serious or critical accessibility violations:\n{describe(severe)}"
    return results


def press(browser, key):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(key).perform()


def wait_for(browser, script, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        value = browser.execute_script(script)
        if value or time.monotonic() > end:
            return value
        time.sleep(0.05)


# -- the pages ------------------------------------------------------------------------------------

def test_player_page(browser, folder):
    state = open_page(browser, folder)
    assert state["error"] is None
    assert_accessible(browser, f"player page, {folder.config.theme} theme, 1280x800")
    assert not severe_errors(browser)


def test_player_page_on_a_phone(browser, folder):
    open_page(browser, folder, width=390, height=844, mobile=True)
    # The transcript and files open too: their text is checked with the rest.
    browser.execute_script("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert_accessible(browser, f"player page, {folder.config.theme} theme, phone 390x844")


def test_presenter_mode(browser, folder):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, folder, hash="#present")
    press(browser, Keys.ARROW_RIGHT)
    said = wait_for(browser, "return document.getElementById('notes-said').textContent")
    assert said, "presenter notes stayed empty after pressing the right arrow"
    assert browser.execute_script("return !document.getElementById('notes').hidden"
                                  " && !document.getElementById('present-keys').hidden")
    assert_accessible(browser, f"presenter mode, {folder.config.theme} theme")


def test_speaker_view(browser, folder):
    """Presenter mode's second window (index.html#speaker, opened with S), once it shows a beat."""
    from selenium.webdriver.common.keys import Keys

    open_page(browser, folder, hash="#present")
    projected = browser.current_window_handle
    press(browser, "s")
    for _ in range(200):
        others = [h for h in browser.window_handles if h != projected]
        if others:
            break
        time.sleep(0.05)
    assert others, "S opened no speaker view"
    try:
        browser.switch_to.window(others[0])
        press(browser, Keys.ARROW_RIGHT)
        assert wait_for(browser, "return document.getElementById('sp-where').textContent"), \
            "the speaker view shows no beat"
        assert_accessible(browser, f"speaker view, {folder.config.theme} theme")
        assert not severe_errors(browser)
    finally:
        browser.close()
        browser.switch_to.window(projected)


def test_embed_page(browser, folder):
    from browser import set_viewport, wait_for_video

    set_viewport(browser, 640, 360)
    browser.get("about:blank")
    browser.get((folder.out / "embed.html").as_uri())
    assert wait_for_video(browser)["error"] is None
    assert_accessible(browser, f"embed.html, {folder.config.theme} theme")


def test_course_page(browser, folder, tmp_path):
    """The course page (``mha-explainer course``) listing this lesson folder twice, in its theme: its words from
    page.toml, a poster with alt text, each lesson a link."""
    import json
    import shutil
    from types import SimpleNamespace as S

    from scenes.render.course import course_page

    manifest = json.loads(folder.manifest.read_text("utf-8"))
    lessons = []
    for name in ("first", "second"):
        shutil.copytree(folder.out, tmp_path / name, ignore=shutil.ignore_patterns(".mha-explainer"))
        c = folder.config
        lessons.append({"title": c.title, "sentence": c.sentence, "theme": c.theme, "page": f"{name}/index.html",
                        "poster": f"{name}/{manifest['lesson']['poster']}", "settings": {"theme": c.theme, "voice": c.voice,
                        "scorm": False}, "video": {"width": c.width, "height": c.height, "fps": c.frame_rate,
                        "duration": manifest["video"]["duration"]}, "chapters": [{"id": i} for i in c.chapters]})
    plan = S(course=S(title="Two lessons"), lessons=[S(lesson=S(config=folder.config))])
    (tmp_path / "index.html").write_text(course_page(plan, lessons), encoding="utf-8")
    browser.get("about:blank")
    browser.get((tmp_path / "index.html").as_uri())
    assert len(browser.find_elements("css selector", "li.lesson a img[alt]")) == 2
    assert_accessible(browser, f"the course page, {folder.config.theme} theme")


def test_head_explorer(browser, folder):
    """The head explorer (``#explorer`` on the player page), checked alone in each state a learner reaches:
    as the page opens, every model, every head of a layer side by side, one head with a query token picked
    by the keyboard; then at phone width."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    theme = folder.config.theme
    open_page(browser, folder)
    explorer = browser.find_element("id", "explorer")
    browser.execute_script("arguments[0].scrollIntoView()", explorer)
    context = {"include": [["#explorer"]]}
    assert_accessible(browser, f"head explorer as opened, {theme} theme", context)
    model = Select(browser.find_element("id", "ex-model"))
    for option in model.options:
        model.select_by_visible_text(option.text)
        assert_accessible(browser, f"head explorer, {option.text}, {theme} theme", context)
    Select(browser.find_element("id", "ex-head")).select_by_value("all")
    assert len(browser.find_elements("css selector", ".ex-tiles button")) > 1
    assert_accessible(browser, f"head explorer, every head side by side, {theme} theme", context)
    Select(browser.find_element("id", "ex-head")).select_by_value("1")
    token = browser.find_element("css selector", "#ex-tokens button[aria-pressed='true']")
    token.send_keys(Keys.END)
    assert browser.switch_to.active_element.get_attribute("aria-pressed") == "true"
    assert_accessible(browser, f"head explorer, head 2, last token, {theme} theme", context)
    open_page(browser, folder, width=390, height=844, mobile=True)
    browser.execute_script("document.getElementById('explorer').scrollIntoView()")
    assert_accessible(browser, f"head explorer, phone 390x844, {theme} theme", context)
    assert not severe_errors(browser)
