"""The lesson as a SCORM 1.2 package for an LMS (``render --scorm``): ``lesson-scorm.zip``.

The zip holds ``imsmanifest.xml`` at its root and every file of the lesson folder under the
same relative names. ``scorm = "lean"`` makes a lean package instead: the joined lesson video, its poster,
captions and chapters track, and a page of its own (``export.render_page(lean=True)``: no thumbnails, no links to
chapter files, tensors or the manifest, which it does not hold; the explorer's numbers are inside the page), so
about the size of ``lesson.mp4``. It carries no manifest.json.

The manifest declares one organisation with one item, whose one
resource is the SCO: ``index.html`` (type webcontent, ``adlcp:scormtype="sco"``), listing every
file of the package. The page itself talks to the LMS (templates/_scorm.html): it finds the
SCORM 1.2 API, reports incomplete/completed, the session time, and keeps the position and what
was watched in ``cmi.suspend_data``; outside an LMS it does nothing.

manifest.json and the zip: a file cannot list its own hash, so the package is made after a
first manifest.json (which lists every file of the folder but the package) and carries that
one: inside the zip, manifest.json describes exactly the zip's other files. The folder's
manifest.json, written after the package, lists ``lesson-scorm.zip`` too (with ``lesson.scorm``
naming it), so the package is a file the tool owns, replaces and checks like any other.

Same config => same bytes: entries in sorted order with a fixed time stamp and mode, videos and
images stored as they are (already compressed), text and tensors deflated (zlib's default level).
The SCORM schema files (.xsd) are not in the package: LMSs do not need them, and the
manifest's ``xsi:schemaLocation`` names them as the specification's own documents.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from ..lesson.config import WHERE_KEYS

PACKAGE = "lesson-scorm.zip"
IMSMANIFEST = "imsmanifest.xml"
CP = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
IMSMD = "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{CP} imscp_rootv1p1p2.xsd {IMSMD} imsmd_rootv1p2p1.xsd {ADLCP} adlcp_rootv1p2.xsd"
SCO = "index.html"

_STORED = (".mp4", ".webm", ".gif", ".png", ".zip")  # compressed already: deflating them again only costs time
_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no render time in the bytes


def identifier(config) -> str:
    """The package's identifier: the same for the same lesson wherever it is rendered (where its folder, words
    and cache are is left out: ``WHERE_KEYS``), a valid xsd:ID (a letter first, then letters, digits and dashes)."""
    fields = config.model_dump(mode="json", exclude=WHERE_KEYS | {"scorm"})
    return "mha-explainer-" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def imsmanifest(config, files: list[str]) -> str:
    """imsmanifest.xml (SCORM 1.2 Content Aggregation Model): one organisation, one item, one SCO that
    lists ``files`` (relative names, ``/``-separated)."""
    title = escape(config.title)
    listed = "\n".join(f"      <file href={quoteattr(quote(name))}/>" for name in files)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier={quoteattr(identifier(config))} version="1.0"
          xmlns="{CP}"
          xmlns:adlcp="{ADLCP}"
          xmlns:xsi="{XSI}"
          xsi:schemaLocation="{SCHEMA_LOCATION}">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
  </metadata>
  <organizations default="lesson-organization">
    <organization identifier="lesson-organization">
      <title>{title}</title>
      <item identifier="lesson-item" identifierref="lesson-sco" isvisible="true">
        <title>{title}</title>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="lesson-sco" type="webcontent" adlcp:scormtype="sco" href="{SCO}">
{listed}
    </resource>
  </resources>
</manifest>
"""


def write_package(staging, names, config, replaced: dict[str, bytes] | None = None) -> str:
    """Write ``lesson-scorm.zip`` into the staging folder (``export._Staging``) from the staged files
    ``names`` (relative; the package itself is left out); returns its name. ``replaced``: name -> the bytes the
    package holds under that name instead of the staged file's (the lean package's own page)."""
    folder = Path(staging.folder)
    replaced = replaced or {}
    files = sorted(set(names) - {PACKAGE, IMSMANIFEST})
    if SCO not in files:
        raise ValueError(f"the SCORM package needs {SCO}; it was not written")
    with zipfile.ZipFile(staging.path(PACKAGE), "w") as package:
        _add(package, IMSMANIFEST, imsmanifest(config, files).encode("utf-8"))
        for name in files:
            _add(package, name, replaced.get(name, folder / name))
    return PACKAGE


def _add(package: zipfile.ZipFile, name: str, source: bytes | Path) -> None:
    info = zipfile.ZipInfo(name, date_time=_TIME)
    info.create_system = 3  # Unix, wherever it runs, so the mode below means the same
    info.external_attr = 0o644 << 16
    stored = name.lower().endswith(_STORED)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    if isinstance(source, bytes):
        package.writestr(info, source)
        return
    info.file_size = source.stat().st_size  # also decides whether the entry needs ZIP64
    with source.open("rb") as data, package.open(info, "w") as entry:
        shutil.copyfileobj(data, entry, 1 << 20)  # videos are streamed, never read whole
