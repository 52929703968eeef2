"""The SCORM 1.2 package (``render --scorm``): its manifest against the SCORM 1.2 schemas and the
Content Aggregation Model, and the player page inside a strict SCORM 1.2 runtime in real Chromium.

The runtime (``HARNESS``) is the API object an LMS puts in the window that frames the SCO,
written from the SCORM 1.2 Run-Time Environment: the eight calls, their "" arguments, the error
codes, the data model's read-only/write-only elements and vocabularies, CMITimespan,
CMIString255/4096. It logs every call with the error it left, and what each LMSCommit stored.
It is served over http://127.0.0.1 (Chromium keeps file:// frames from reaching each other).
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import pytest
from browser import open_page, severe_errors

from scenes.render import export, scorm

pytestmark = [pytest.mark.browser, pytest.mark.render]

VIDEO = "document.getElementById('sco').contentDocument.getElementById('lesson')"  # from the LMS's window
NS = {"cp": scorm.CP, "adlcp": scorm.ADLCP}
TIMESPAN = re.compile(r"^(\d{2,4}):([0-5]\d):([0-5]\d)(\.\d{1,2})?$")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """The small lesson of test_export with ``scorm`` on: the same folder, so its chapters come from the cache."""
    from test_export import render_small_lesson

    from scenes.render import render_lesson

    first = render_small_lesson(tmp_path_factory.getbasetemp())
    result = render_lesson(first.config.model_copy(update={"scorm": True}), jobs=2)
    return result, json.loads(result.manifest.read_text("utf-8"))


@pytest.fixture(scope="module")
def package(lesson):
    result, _ = lesson
    return zipfile.ZipFile(result.out / scorm.PACKAGE)


# -- the package ---------------------------------------------------------------------------


def test_the_package_is_the_folder_and_the_folder_lists_it(lesson, package):
    result, manifest = lesson
    names = package.namelist()
    assert names[0] == scorm.IMSMANIFEST and names[1:] == sorted(names[1:])
    assert set(names) == {scorm.IMSMANIFEST, *(n for n in result.written if n != scorm.PACKAGE)}
    # The folder's manifest lists the package; the one inside lists every other file of the package.
    assert manifest["lesson"]["scorm"] == scorm.PACKAGE and scorm.PACKAGE in manifest["files"]
    inner = json.loads(package.read("manifest.json"))
    assert set(inner["files"]) == set(names) - {scorm.IMSMANIFEST, "manifest.json"}
    for name, entry in inner["files"].items():
        assert entry == manifest["files"][name], name  # the same bytes as the folder's files
    for info in package.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.create_system == 3
        assert info.compress_type == (zipfile.ZIP_STORED if info.filename.endswith((".mp4", ".webm", ".png"))
                                      else zipfile.ZIP_DEFLATED), info.filename
        assert not info.filename.startswith("/") and ".." not in info.filename.split("/") and "\\" not in info.filename
    assert package.testzip() is None
    assert scorm.PACKAGE in export.planned_names(result.config)
    assert scorm.PACKAGE not in export.planned_names(result.config.model_copy(update={"scorm": False}))


def test_scorm_changes_the_folder_key_but_not_the_chapter_cache():
    from scenes.lesson.config import LessonConfig
    from scenes.render.keys import folder_key, render_settings

    plain = LessonConfig(model="toy", voice="none")
    packaged = plain.model_copy(update={"scorm": True})
    assert render_settings(plain) == render_settings(packaged)  # the chapter videos are the same
    assert folder_key(plain, code="c") != folder_key(packaged, code="c")  # the folder is not
    lean = plain.model_copy(update={"scorm": "lean"})
    assert render_settings(lean) == render_settings(plain)
    assert len({folder_key(config, code="c") for config in (plain, packaged, lean)}) == 3


def test_same_files_make_the_same_bytes(lesson, package, tmp_path):
    """Same config => same bytes: the package made again from its own files is byte for byte the same."""
    result, _ = lesson
    package.extractall(tmp_path / "files")

    class Staging:
        folder = tmp_path / "files"

        def path(self, name):
            return tmp_path / name

    names = [n for n in package.namelist() if n != scorm.IMSMANIFEST]
    scorm.write_package(Staging(), reversed(names), result.config)
    assert (tmp_path / scorm.PACKAGE).read_bytes() == (result.out / scorm.PACKAGE).read_bytes()


def scorm_schema(folder: Path):
    """The ADL SCORM 1.2 control-document schemas (imscp_rootv1p1p2.xsd, adlcp_rootv1p2.xsd), as the
    package plct-bulder-for-sphinx ships them. Their ims_xml.xsd binds the default namespace to the xml
    namespace, which XML parsers refuse; the W3C's xml.xsd (in xmlschema) stands in for it."""
    from importlib import resources

    import xmlschema

    shipped = resources.files("plct_bulder_for_sphinx") / "scorm-templates"
    xml_xsd = Path(xmlschema.__file__).parent / "schemas" / "XML" / "xml.xsd"
    for name in ("imscp_rootv1p1p2.xsd", "adlcp_rootv1p2.xsd"):
        text = (shipped / name).read_text("utf-8")
        (folder / name).write_text(text.replace('schemaLocation="ims_xml.xsd"', f'schemaLocation="{xml_xsd.as_uri()}"'),
                                   "utf-8")
    return xmlschema.XMLSchema([str(folder / "imscp_rootv1p1p2.xsd"), str(folder / "adlcp_rootv1p2.xsd")])


def test_manifest_validates_against_the_scorm_1_2_schemas(package, tmp_path):
    """The manifest against the SCORM 1.2 schemas (``scorm_schema``)."""
    schema = scorm_schema(tmp_path)
    manifest = package.read(scorm.IMSMANIFEST).decode("utf-8")
    schema.validate(manifest)
    # The schemas do catch what a manifest gets wrong (a check that passes everything proves nothing).
    assert not schema.is_valid(manifest.replace('adlcp:scormtype="sco"', 'adlcp:scormtype="asset "'))
    assert not schema.is_valid(manifest.replace("<metadata>", "<resources/><metadata>", 1))


def test_manifest_has_what_the_content_aggregation_model_requires(lesson, package):
    """Element by element, what SCORM 1.2 CAM requires beyond the schemas: the metadata, one default
    organisation whose one item refers to the one SCO, every file listed and in the package."""
    result, _ = lesson
    text = package.read(scorm.IMSMANIFEST)
    assert text.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(text)
    assert root.tag == f"{{{scorm.CP}}}manifest" and re.fullmatch(r"[A-Za-z_][\w.-]*", root.get("identifier"))
    locations = root.get(f"{{{scorm.XSI}}}schemaLocation").split()
    assert dict(zip(locations[::2], locations[1::2]))[scorm.CP] == "imscp_rootv1p1p2.xsd"
    assert dict(zip(locations[::2], locations[1::2]))[scorm.ADLCP] == "adlcp_rootv1p2.xsd"
    assert [child.tag.split("}")[1] for child in root] == ["metadata", "organizations", "resources"]
    assert root.findtext("cp:metadata/cp:schema", namespaces=NS) == "ADL SCORM"
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=NS) == "1.2"

    organizations = root.find("cp:organizations", NS)
    (organization,) = organizations.findall("cp:organization", NS)
    assert organizations.get("default") == organization.get("identifier")
    assert organization.findtext("cp:title", namespaces=NS) == result.config.title
    (item,) = organization.findall("cp:item", NS)
    assert item.findtext("cp:title", namespaces=NS) == result.config.title

    (resource,) = root.findall("cp:resources/cp:resource", NS)
    assert item.get("identifierref") == resource.get("identifier")
    assert resource.get("type") == "webcontent" and resource.get(f"{{{scorm.ADLCP}}}scormtype") == "sco"
    assert resource.get("href") == "index.html"
    ids = [e.get("identifier") for e in root.iter() if e.get("identifier") is not None]
    assert len(ids) == len(set(ids))
    hrefs = [f.get("href") for f in resource.findall("cp:file", NS)]
    assert resource.get("href") in hrefs
    for href in hrefs:  # relative, URL-safe, inside the package
        assert urlsplit(href).scheme == "" and not href.startswith("/") and ".." not in href.split("/")
        assert quote(unquote(href)) == href
    assert sorted(unquote(h) for h in hrefs) == sorted(n for n in package.namelist() if n != scorm.IMSMANIFEST)


# -- the page inside a SCORM 1.2 runtime -----------------------------------------------------

HARNESS = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>SCORM 1.2 runtime</title><link rel="icon" href="data:,"></head>
<body><iframe id="sco" width="800" height="600"></iframe>
<script>
// A strict SCORM 1.2 runtime (the Run-Time Environment's API and cmi data model); logs every call.
var ERRORS = {"0": "No error", "101": "General exception", "201": "Invalid argument error",
  "202": "Element cannot have children", "203": "Element not an array - cannot have count",
  "301": "Not initialized", "401": "Not implemented error", "402": "Invalid set value, element is a keyword",
  "403": "Element is read only", "404": "Element is write only", "405": "Incorrect data type"};
var STATUS = ["passed", "completed", "failed", "incomplete", "browsed"];  // a SCO may not set "not attempted"
var EXIT = ["time-out", "suspend", "logout", ""];
function maxLength(n) { return function (v) { return v.length <= n; }; }
function oneOf(list) { return function (v) { return list.indexOf(v) >= 0; }; }
function score(v) { return v === "" || (/^-?\d+(\.\d+)?$/.test(v) && +v >= 0 && +v <= 100); }
function timespan(v) { return /^\d{2,4}:[0-5]\d:[0-5]\d(\.\d{1,2})?$/.test(v); }
var MODEL = {  // element: [access, type check of a set value]
  "cmi._children": ["r"], "cmi.core._children": ["r"], "cmi.core.student_id": ["r"],
  "cmi.core.student_name": ["r"], "cmi.core.lesson_location": ["rw", maxLength(255)], "cmi.core.credit": ["r"],
  "cmi.core.lesson_status": ["rw", oneOf(STATUS)], "cmi.core.entry": ["r"], "cmi.core.score._children": ["r"],
  "cmi.core.score.raw": ["rw", score], "cmi.core.score.min": ["rw", score], "cmi.core.score.max": ["rw", score],
  "cmi.core.total_time": ["r"], "cmi.core.lesson_mode": ["r"], "cmi.core.exit": ["w", oneOf(EXIT)],
  "cmi.core.session_time": ["w", timespan], "cmi.suspend_data": ["rw", maxLength(4096)],
  "cmi.launch_data": ["r"], "cmi.comments": ["rw", maxLength(4096)], "cmi.comments_from_lms": ["r"]};
var OPTIONAL = /^cmi\.(objectives|student_data|student_preference|interactions)(\.|$)/;  // not implemented here
var session;

function startSession(initial, url) {
  var data = {"cmi._children": "core,suspend_data,launch_data,comments,comments_from_lms",
    "cmi.core._children": "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,lesson_mode,exit,session_time",
    "cmi.core.score._children": "raw,min,max", "cmi.core.student_id": "learner-1",
    "cmi.core.student_name": "Learner, Test", "cmi.core.lesson_location": "", "cmi.core.credit": "credit",
    "cmi.core.lesson_status": "not attempted", "cmi.core.entry": "ab-initio", "cmi.core.score.raw": "",
    "cmi.core.score.min": "", "cmi.core.score.max": "", "cmi.core.total_time": "0000:00:00.00",
    "cmi.core.lesson_mode": "normal", "cmi.core.exit": "", "cmi.core.session_time": "",
    "cmi.suspend_data": "", "cmi.launch_data": "", "cmi.comments": "", "cmi.comments_from_lms": ""};
  for (var key in initial) data[key] = initial[key];
  session = {state: "not initialized", error: "0", data: data, calls: [], commits: []};
  if (url) document.getElementById("sco").src = url;
}
function done(name, args, result, error) {
  session.error = error;
  session.calls.push({call: name, args: Array.prototype.slice.call(args), result: result, error: error});
  return result;
}
function running(name, args, empty) { return session.state === "running" ? null : done(name, args, empty, "301"); }
function store() { var copy = {}; for (var k in session.data) copy[k] = session.data[k]; session.commits.push(copy); }

window.API = {
  LMSInitialize: function (arg) {
    if (arguments.length !== 1 || arg !== "") return done("LMSInitialize", arguments, "false", "201");
    if (session.state !== "not initialized") return done("LMSInitialize", arguments, "false", "101");
    session.state = "running";
    return done("LMSInitialize", arguments, "true", "0");
  },
  LMSFinish: function (arg) {
    var refused = running("LMSFinish", arguments, "false");
    if (refused !== null) return refused;
    if (arguments.length !== 1 || arg !== "") return done("LMSFinish", arguments, "false", "201");
    store();
    session.state = "finished";
    return done("LMSFinish", arguments, "true", "0");
  },
  LMSCommit: function (arg) {
    var refused = running("LMSCommit", arguments, "false");
    if (refused !== null) return refused;
    if (arguments.length !== 1 || arg !== "") return done("LMSCommit", arguments, "false", "201");
    store();
    return done("LMSCommit", arguments, "true", "0");
  },
  LMSGetValue: function (element) {
    var refused = running("LMSGetValue", arguments, "");
    if (refused !== null) return refused;
    var entry = MODEL[element];
    if (typeof element !== "string" || arguments.length !== 1) return done("LMSGetValue", arguments, "", "201");
    if (entry) return entry[0] === "w" ? done("LMSGetValue", arguments, "", "404")
                                       : done("LMSGetValue", arguments, session.data[element], "0");
    if (OPTIONAL.test(element)) return done("LMSGetValue", arguments, "", "401");
    if (/\._children$/.test(element)) return done("LMSGetValue", arguments, "", "202");
    if (/\._count$/.test(element)) return done("LMSGetValue", arguments, "", "203");
    return done("LMSGetValue", arguments, "", "201");
  },
  LMSSetValue: function (element, value) {
    var refused = running("LMSSetValue", arguments, "false");
    if (refused !== null) return refused;
    var entry = MODEL[element];
    if (typeof element !== "string" || arguments.length !== 2) return done("LMSSetValue", arguments, "false", "201");
    if (/\._(children|count)$/.test(element)) return done("LMSSetValue", arguments, "false", "402");
    if (!entry) return done("LMSSetValue", arguments, "false", OPTIONAL.test(element) ? "401" : "201");
    if (entry[0] === "r") return done("LMSSetValue", arguments, "false", "403");
    if (typeof value !== "string" || !entry[1](value)) return done("LMSSetValue", arguments, "false", "405");
    session.data[element] = value;
    return done("LMSSetValue", arguments, "true", "0");
  },
  // These three may be called at any time and change no state.
  LMSGetLastError: function () { return session.error; },
  LMSGetErrorString: function (code) { return ERRORS[code] || ""; },
  LMSGetDiagnostic: function (code) { return ERRORS[code === "" || code === undefined ? session.error : code] || ""; }
};
startSession({}, null);
</script></body></html>
"""


class _Files(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges (a <video> seeks with them), quietly."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not wanted or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start, end = int(wanted[1]), min(int(wanted[2] or size - 1), size - 1)
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the browser drops a video request it no longer needs: not a failure


@pytest.fixture(scope="module")
def site(package, tmp_path_factory):
    """http://127.0.0.1:PORT/: harness.html, and the package unpacked under sco/."""
    root = tmp_path_factory.mktemp("scorm-site")
    package.extractall(root / "sco")
    (root / "harness.html").write_text(HARNESS, "utf-8")
    server = _Server(("127.0.0.1", 0), functools.partial(_Files, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def wait_for(browser, script, timeout=20.0, *args):
    """Poll ``script`` (a JS expression) until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script(f"return {script};", *args)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def start(browser, site, initial=None):
    """A fresh LMS session with the SCO in its frame; returns once the page has initialised and its video is ready."""
    browser.get("about:blank")
    browser.get(f"{site}/harness.html")
    browser.execute_script("startSession(arguments[0], 'sco/index.html')", initial or {})
    assert wait_for(browser, f"session.state === 'running' && {VIDEO} && {VIDEO}.readyState >= 1")


def calls(browser):
    return browser.execute_script("return session.calls")


def sets(browser, element):
    return [c["args"][1] for c in calls(browser) if c["call"] == "LMSSetValue" and c["args"][0] == element]


def play(browser, until=None, video=VIDEO):
    """Play muted at 16x until the end (or until the playhead passes ``until`` seconds), then pause."""
    browser.execute_script(f"var v = {video}; v.muted = true; v.playbackRate = 16; v.play();")
    condition = f"{video}.ended" if until is None else f"{video}.currentTime >= {until}"
    assert wait_for(browser, condition, timeout=60)
    browser.execute_script(f"{video}.pause()")


def leave(browser):
    """The learner leaves: the LMS takes the SCO's frame away."""
    browser.execute_script("document.getElementById('sco').src = 'about:blank'")
    return wait_for(browser, "session.state === 'finished'")


def no_errors(browser):
    """Every call the page made left error 0 (the harness is strict, so wrong values would show)."""
    return [c for c in calls(browser) if c["error"] != "0"]


def watched(suspend_data: str) -> float:
    """The part of the lesson the page's suspend_data ("p=<position>;n=<slots>;w=<bits>") says was watched."""
    fields = dict(part.split("=", 1) for part in suspend_data.split(";"))
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    slots = int(fields["n"])
    assert len(fields["w"]) == -(-slots // 6)
    bits = [(digits.index(fields["w"][i // 6]) >> (i % 6)) & 1 for i in range(slots)]
    return sum(bits) / slots


def stored(browser):
    """What the last LMSCommit (or LMSFinish) stored."""
    return browser.execute_script("return session.commits.length ? session.commits[session.commits.length - 1] : null")


def test_the_harness_answers_as_the_run_time_environment_defines(browser, site):
    """The runtime the page is tested in is itself checked: each call's result and error code."""
    browser.get(f"{site}/harness.html")
    script = """
        var out = [];
        function step(name) { var args = Array.prototype.slice.call(arguments, 1);
                              out.push([name].concat(args, [String(API[name].apply(API, args)), API.LMSGetLastError()])); }
        step("LMSGetValue", "cmi.core.lesson_status");            // before LMSInitialize
        step("LMSInitialize", "x");
        step("LMSInitialize", "");
        step("LMSInitialize", "");                                // twice
        step("LMSSetValue", "cmi.core.lesson_status", "not attempted");
        step("LMSSetValue", "cmi.core.entry", "resume");
        step("LMSGetValue", "cmi.core.exit");
        step("LMSSetValue", "cmi.core.exit", "quit");
        step("LMSSetValue", "cmi.core.session_time", "1:00:00");
        step("LMSSetValue", "cmi.core.session_time", "0000:01:05.20");
        step("LMSSetValue", "cmi.core._children", "x");
        step("LMSGetValue", "cmi.core.lesson_status._children");
        step("LMSGetValue", "cmi.objectives._count");
        step("LMSGetValue", "cmi.nothing");
        step("LMSSetValue", "cmi.suspend_data", new Array(4098).join("x"));
        step("LMSSetValue", "cmi.core.lesson_location", new Array(257).join("x"));
        step("LMSCommit", "x");
        step("LMSFinish", "");
        step("LMSCommit", "");                                   // after LMSFinish
        return out;"""
    answers = [(step[0], step[-2], step[-1]) for step in browser.execute_script(script)]
    assert answers == [
        ("LMSGetValue", "", "301"), ("LMSInitialize", "false", "201"), ("LMSInitialize", "true", "0"),
        ("LMSInitialize", "false", "101"), ("LMSSetValue", "false", "405"), ("LMSSetValue", "false", "403"),
        ("LMSGetValue", "", "404"), ("LMSSetValue", "false", "405"), ("LMSSetValue", "false", "405"),
        ("LMSSetValue", "true", "0"), ("LMSSetValue", "false", "402"), ("LMSGetValue", "", "202"),
        ("LMSGetValue", "", "401"), ("LMSGetValue", "", "201"), ("LMSSetValue", "false", "405"),
        ("LMSSetValue", "false", "405"), ("LMSCommit", "false", "201"), ("LMSFinish", "true", "0"),
        ("LMSCommit", "false", "301"),
    ]
    assert browser.execute_script("return [API.LMSGetErrorString('403'), API.LMSGetErrorString('999')]") == [
        "Element is read only", ""]


def test_start_sets_incomplete(browser, site):
    start(browser, site)
    log = calls(browser)
    assert log[0]["call"] == "LMSInitialize" and log[0]["args"] == [""] and log[0]["result"] == "true"
    assert sets(browser, "cmi.core.lesson_status") == ["incomplete"]
    assert browser.execute_script("return session.data['cmi.core.lesson_status']") == "incomplete"
    assert not no_errors(browser)


def test_watching_the_lesson_completes_it(browser, site):
    start(browser, site)
    play(browser)
    assert wait_for(browser, "session.commits.some(function (c) { return c['cmi.core.lesson_status'] === 'completed'; })")
    assert stored(browser)["cmi.core.lesson_status"] == "completed"
    # ... with a score of 100 out of 0-100, for LMS grading that reads the score
    assert [stored(browser)[f"cmi.core.score.{k}"] for k in ("raw", "min", "max")] == ["100", "0", "100"]
    assert leave(browser)
    assert sets(browser, "cmi.core.exit")[-1] == ""  # completed: nothing to resume
    assert not no_errors(browser)


def test_seeking_to_the_end_does_not_complete_it(browser, site):
    start(browser, site)
    duration = browser.execute_script(f"return {VIDEO}.duration")
    browser.execute_script(f"{VIDEO}.currentTime = arguments[0]", duration - 0.5)
    play(browser)  # the last half second, to the end
    assert leave(browser)
    assert "completed" not in sets(browser, "cmi.core.lesson_status")
    assert stored(browser)["cmi.core.lesson_status"] == "incomplete"
    assert stored(browser)["cmi.core.score.raw"] == ""  # no score without the lesson watched
    assert watched(stored(browser)["cmi.suspend_data"]) < 0.05
    assert not no_errors(browser)


def test_leaving_reports_session_time_and_suspends(browser, site):
    start(browser, site)
    time.sleep(1.2)
    play(browser, until=3)
    assert leave(browser)
    log = calls(browser)
    assert log[-1]["call"] == "LMSFinish" and log[-1]["args"] == [""] and log[-1]["result"] == "true"
    assert [c["call"] for c in log].count("LMSFinish") == 1  # pagehide and beforeunload: once only
    (spent,) = sets(browser, "cmi.core.session_time")
    match = TIMESPAN.match(spent)
    assert match, spent
    seconds = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3] + (match[4] or ""))
    assert 1.0 < seconds < 120
    assert sets(browser, "cmi.core.exit") == ["suspend"]
    data = stored(browser)
    assert data["cmi.core.exit"] == "suspend" and data["cmi.core.session_time"] == spent
    assert float(data["cmi.core.lesson_location"]) >= 3
    assert re.fullmatch(r"p=[\d.]+;n=\d+;w=[A-Za-z0-9_-]+", data["cmi.suspend_data"])
    assert not no_errors(browser)


def test_a_second_session_resumes_and_counts_what_was_watched_before(browser, site):
    start(browser, site)
    duration = browser.execute_script(f"return {VIDEO}.duration")
    play(browser, until=duration * 0.6)
    assert leave(browser)
    first = stored(browser)
    assert first["cmi.core.lesson_status"] == "incomplete"
    position = float(first["cmi.core.lesson_location"])
    assert 0.55 < watched(first["cmi.suspend_data"]) < 0.7
    assert len(first["cmi.suspend_data"]) < 200  # one bit per second: a 15-minute lesson needs about 170 characters

    # The LMS hands the stored data back, as it does after exit "suspend".
    start(browser, site, {"cmi.core.entry": "resume", "cmi.core.lesson_status": "incomplete",
                          "cmi.suspend_data": first["cmi.suspend_data"],
                          "cmi.core.lesson_location": first["cmi.core.lesson_location"]})
    assert wait_for(browser, f"Math.abs({VIDEO}.currentTime - {position}) < 0.3")  # resumed where the learner left
    play(browser)  # the remaining 40%: with the first 60% it is the whole lesson
    assert wait_for(browser, "session.data['cmi.core.lesson_status'] === 'completed'")
    assert leave(browser)
    assert stored(browser)["cmi.core.lesson_status"] == "completed"
    assert not no_errors(browser)


def test_a_window_opened_by_the_lms_finds_the_api_of_its_opener(browser, site):
    browser.get("about:blank")
    browser.get(f"{site}/harness.html")
    browser.execute_script("window.popup = window.open('sco/index.html', 'sco-window')")
    assert wait_for(browser, "session.state === 'running' && session.data['cmi.core.lesson_status'] === 'incomplete'")
    browser.execute_script("window.popup.close()")
    assert wait_for(browser, "session.state === 'finished'")
    assert sets(browser, "cmi.core.exit") == ["suspend"] and not no_errors(browser)
    assert len(browser.window_handles) == 1


def test_outside_an_lms_the_page_does_nothing_and_logs_no_error(browser, lesson, site):
    result, _ = lesson
    severe_errors(browser)  # read (and so cleared) the earlier tests' log
    state = open_page(browser, result)  # file://, no API anywhere
    assert state["error"] is None and state["ready"] >= 1
    assert not severe_errors(browser)
    # Framed by a page of another origin that has an API: reading it is refused, quietly.
    browser.get(f"{site}/harness.html".replace("127.0.0.1", "localhost"))
    port = site.rsplit(":", 1)[1]
    browser.execute_script(f"document.getElementById('sco').src = 'http://127.0.0.1:{port}/sco/index.html'")
    time.sleep(2)
    assert browser.execute_script("return session.calls.length") == 0
    assert not severe_errors(browser)


# -- the lean package (scorm = "lean"): the joined video, its captions and its page ---------------------------

LEAN_FILES = {"index.html", "lesson.mp4", "lesson.webm", "poster.png", "captions.vtt", "captions.srt", "chapters.vtt"}


@pytest.fixture(scope="module")
def lean(lesson, tmp_path_factory):
    """The module's lesson with scorm = "lean", in a folder of its own (its chapters and joined video come from
    the cache): (its RenderResult, its manifest, the package)."""
    from scenes.render import render_lesson

    result, _ = lesson
    out = tmp_path_factory.mktemp("lean") / "lesson"
    lean_result = render_lesson(result.config.model_copy(update={"scorm": "lean", "out": out}), jobs=2)
    return (lean_result, json.loads(lean_result.manifest.read_text("utf-8")),
            zipfile.ZipFile(lean_result.out / scorm.PACKAGE))


def _links(page: str) -> set[str]:
    """The page's own files it links or loads: every src/href/poster that is not a data:, web or fragment URL."""
    targets = re.findall(r'(?:src|href|poster)="([^"]*)"', page)
    return {unquote(urlsplit(t).path) for t in targets
            if t and not t.startswith(("data:", "#", "http://", "https://", "mailto:", "javascript:"))}


def test_the_lean_package_holds_the_video_captions_and_page_only(lesson, package, lean):
    full_result, _ = lesson
    result, manifest, lean_package = lean
    names = lean_package.namelist()
    assert names[0] == scorm.IMSMANIFEST and names[1:] == sorted(LEAN_FILES)
    assert not any(n.startswith(("chapters/", "thumbs/")) or n.endswith(".safetensors") for n in names)
    assert result.config.scorm == "lean" and scorm.PACKAGE in export.planned_names(result.config)
    # The folder itself is the whole lesson, as always, and lists the package.
    assert manifest["lesson"]["scorm"] == scorm.PACKAGE and scorm.PACKAGE in manifest["files"]
    assert any(n.startswith("chapters/") for n in manifest["files"]) and "trace.safetensors" in manifest["files"]
    for name in LEAN_FILES - {"index.html"}:  # the same bytes as the folder's files
        assert scorm_sha(lean_package, name) == manifest["files"][name]["sha256"], name
    # imsmanifest.xml lists exactly what the package holds.
    root = ElementTree.fromstring(lean_package.read(scorm.IMSMANIFEST))
    assert {f.get("href") for f in root.iterfind("cp:resources/cp:resource/cp:file", NS)} == LEAN_FILES
    # Its page links only files it holds: no thumbnails, chapter files, tensors or manifest (the folder's page does).
    page = lean_package.read("index.html").decode("utf-8")
    assert _links(page) <= LEAN_FILES and {"lesson.mp4", "poster.png", "captions.vtt"} <= _links(page)
    folder_page = (result.out / "index.html").read_text("utf-8")
    assert any(link.startswith("thumbs/") for link in _links(folder_page)) and "manifest.json" in _links(folder_page)
    assert 'class="chapter text-only"' in page and "text-only" not in folder_page.split("<nav")[1]
    data = json.loads(re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S)[1])
    assert data["models"] and all(m["weights"] for m in data["models"])  # the explorer's numbers are in the page
    # Smaller: about the joined videos, not the folder.
    full, small = (full_result.out / scorm.PACKAGE).stat().st_size, (result.out / scorm.PACKAGE).stat().st_size
    videos = sum((result.out / n).stat().st_size for n in ("lesson.mp4", "lesson.webm"))
    assert small < full and small < videos * 1.2 + 200_000, (small, full, videos)
    assert lean_package.testzip() is None


def scorm_sha(package, name):
    import hashlib

    return hashlib.sha256(package.read(name)).hexdigest()


def test_the_lean_manifest_validates_against_the_scorm_1_2_schemas(lean, tmp_path):
    _, _, lean_package = lean
    scorm_schema(tmp_path).validate(lean_package.read(scorm.IMSMANIFEST).decode("utf-8"))


@pytest.fixture(scope="module")
def lean_site(lean, tmp_path_factory):
    """The harness with the lean package unpacked under sco/, and the paths it was asked for that it has not."""
    root = tmp_path_factory.mktemp("lean-site")
    lean[2].extractall(root / "sco")
    (root / "harness.html").write_text(HARNESS, "utf-8")
    missing = []

    class Recording(_Files):
        def send_error(self, code, *args, **kwargs):
            missing.append((code, self.path))
            super().send_error(code, *args, **kwargs)

    server = _Server(("127.0.0.1", 0), functools.partial(Recording, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", missing
    server.shutdown()
    server.server_close()


def test_the_lean_package_plays_and_completes_in_the_strict_runtime(browser, lean_site):
    site, missing = lean_site
    severe_errors(browser)  # read (and so cleared) the earlier tests' log
    start(browser, site)
    assert sets(browser, "cmi.core.lesson_status") == ["incomplete"]
    play(browser)
    assert wait_for(browser, "session.commits.some(function (c) { return c['cmi.core.lesson_status'] === 'completed'; })")
    assert leave(browser)
    assert not no_errors(browser)
    assert not missing and not severe_errors(browser)  # nothing it asked for was left out of the package


# -- a real SCORM host: scormhost (FastAPI), run in this process -------------------------------

SCORMHOST_ADMIN = {"email": "admin@example.org", "username": "admin", "password": "password-123",
                   "display_name": "Course Admin"}


@pytest.fixture(scope="module")
def scormhost(tmp_path_factory):
    """scormhost's app (``create_scorm_app``) under uvicorn on 127.0.0.1, in a thread; its base URL."""
    import socket

    import uvicorn
    from scormhost import create_scorm_app

    app = create_scorm_app(data_dir=tmp_path_factory.mktemp("scormhost"), title="Course",
                           secret_key="a-test-secret-of-at-least-thirty-two-bytes")
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "scormhost did not start"
    yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    listening.close()


def http(method, url, body=None, token=None, content_type="application/json"):
    """(status, JSON) of a request to scormhost's API."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": content_type} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def test_the_package_plays_in_scormhost(browser, lesson, scormhost):
    """Upload through scormhost's API (the first user registered is its admin), launch it in Chromium,
    watch it, and read the learner's CMI back through the API. scormhost's runtime accepts any cmi value
    (the strict checks are the harness's); it sets cmi.core.exit to "suspend" on every LMSFinish."""
    result, _ = lesson
    assert http("POST", f"{scormhost}/api/auth/register", SCORMHOST_ADMIN)[0] == 200
    login = {"email": SCORMHOST_ADMIN["email"], "password": SCORMHOST_ADMIN["password"]}
    status, body = http("POST", f"{scormhost}/api/auth/login", login)
    assert status == 200 and body["user"]["role"] == "admin"
    token = body["access_token"]
    boundary = "mha-explainer-boundary"
    upload = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{scorm.PACKAGE}"\r\n'
              f"Content-Type: application/zip\r\n\r\n").encode() + (result.out / scorm.PACKAGE).read_bytes() \
        + f"\r\n--{boundary}--\r\n".encode()
    status, uploaded = http("POST", f"{scormhost}/api/packages", upload, token,
                            f"multipart/form-data; boundary={boundary}")
    assert status == 201, uploaded
    assert uploaded["manifest"]["schema_version"] == "1.2" and uploaded["manifest"]["title"] == result.config.title
    assert [launch["href"] for launch in uploaded["manifest"]["launches"]] == ["index.html"]

    browser.get("about:blank")
    browser.get(f"{scormhost}/health")
    login_script = ("var done = arguments[1]; fetch('/api/auth/login', {method: 'POST', body: JSON.stringify("
                    "arguments[0]), headers: {'Content-Type': 'application/json'}}).then(function (r) { done(r.status); })")
    assert browser.execute_async_script(login_script, login) == 200  # the learner's progress goes to the account
    severe_errors(browser)
    browser.get(f"{scormhost}{uploaded['launch_url']}")
    video = "document.getElementById('scormhost-content').contentDocument.getElementById('lesson')"
    assert wait_for(browser, f"(function () {{ try {{ return {video}.readyState >= 1; }} catch (e) {{ return false; }} }})()")
    assert wait_for(browser, "API.LMSGetValue('cmi.core.lesson_status') === 'incomplete'")
    play(browser, video=video)
    assert wait_for(browser, "API.LMSGetValue('cmi.core.lesson_status') === 'completed'")
    browser.get("about:blank")  # leave: the page finishes the session, scormhost stores it

    deadline, cmi = time.monotonic() + 15, {}
    while time.monotonic() < deadline and not cmi.get("cmi.core.session_time", "").strip("0:."):
        status, body = http("GET", f"{scormhost}/api/scorm/{uploaded['id']}/cmi", token=token)
        cmi = body["elements"] if status == 200 else {}
        time.sleep(0.2)
    assert cmi["cmi.core.lesson_status"] == "completed" and cmi["cmi.core.score.raw"] == "100"
    assert TIMESPAN.match(cmi["cmi.core.session_time"]) and cmi["cmi.core.session_time"] != "0000:00:00.00"
    assert watched(cmi["cmi.suspend_data"]) >= 0.9
    errors = [e for e in severe_errors(browser) if "favicon.ico" not in e["message"]]  # scormhost has no icon
    assert not errors, errors
