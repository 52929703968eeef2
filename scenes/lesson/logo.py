"""The author's logo (``logo`` in lesson.toml, ``--logo``): a PNG or SVG file, checked whole before anything renders.

    logo = read_logo("school.png")     # Logo(kind="png", width=400, height=120, sha256=..., data=b"...")
    logo.aspect                          # width / height, to fit it in the corner it is drawn in

Nothing read from disk is trusted: the file must be a regular file (no folder, device or FIFO: it is opened
without waiting and checked again once open), at most ``MAX_LOGO_BYTES``, and by its content (not its name)
either a PNG that Pillow reads whole, at most ``MAX_LOGO_PIXELS`` each way, or an SVG: well-formed XML without
entity declarations, whose root is ``svg``, with a size (a viewBox, or a width and a height) and at least one
shape, in at most ``MAX_SVG_ELEMENTS`` elements. Each mistake is a ``LogoError``, the end of one sentence that
the config starts with the key and the value (``logo = "x.gif" is not a PNG or SVG file; ...``).

The logo's path says where it is, not what it is: render keys hold its bytes' SHA-256 (``digest``), not the path.
No Manim here; Pillow is imported only when a PNG is checked.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from mha_core.files import FileError, check_path, kind_of, read_file

MAX_LOGO_BYTES = 2 * 1000 * 1000  # 2 MB: a logo is a small picture, never a photograph album
MAX_LOGO_PIXELS = 4096  # a PNG's width and height, each (it is drawn a few hundred pixels wide at most)
MAX_SVG_ELEMENTS = 10_000  # an SVG logo's elements: every one becomes a shape Manim draws
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The SVG elements that draw something (a logo with none of them would be an empty corner).
# Text and embedded pictures are not among them: Manim draws neither (text must be converted to paths).
SVG_SHAPES = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "use"})
# Lengths an SVG's width and height may be given in (a percentage says nothing without a viewBox).
_LENGTH = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in|em|ex)?\s*")
FIX = "give the path of a .png or .svg logo"


class LogoError(ValueError):
    """A logo file that cannot be used; ``str(err)`` follows the key and the value: "is not a PNG or SVG file; ..."."""


@dataclass(frozen=True)
class Logo:
    """A checked logo: its kind ("png" or "svg"), its size (pixels, or the SVG's own units), its bytes' SHA-256."""

    path: Path
    kind: str
    width: float
    height: float
    sha256: str
    data: bytes

    @property
    def aspect(self) -> float:
        return self.width / self.height


def digest(path: str | os.PathLike) -> str:
    """The SHA-256 of the logo's bytes, what a render key holds (read as ``read_logo`` reads them: a regular file of
    at most ``MAX_LOGO_BYTES``; its content was checked with the config). ``LogoError`` if it is no longer there."""
    try:
        return hashlib.sha256(read_file(check_path(path), MAX_LOGO_BYTES, "logo")).hexdigest()
    except FileNotFoundError:
        raise LogoError(f"does not exist any more; {FIX}") from None
    except (OSError, FileError) as err:
        raise LogoError(f"cannot be read any more ({err}); {FIX}") from None


def read_logo(path: str | os.PathLike) -> Logo:
    """The logo at ``path``, read once and checked whole (see the module docstring); ``LogoError`` if unusable."""
    try:
        path = check_path(path)
    except FileError as err:
        raise LogoError(f"cannot be opened: {err}") from None
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise LogoError(f"does not exist; {FIX}") from None
    except OSError as err:
        raise LogoError(f"cannot be read ({_reason(err)}); {FIX}") from None
    if stat.S_ISDIR(mode):
        raise LogoError(f"is a directory, not a file; {FIX}")
    if kind := kind_of(mode):
        raise LogoError(f"is {kind}, not a regular file; {FIX}")
    try:
        data = read_file(path, MAX_LOGO_BYTES, "logo")  # opened without waiting, checked again once open
    except FileError:
        size = os.stat(path).st_size if os.path.isfile(path) else 0
        if size > MAX_LOGO_BYTES:
            raise LogoError(f"is {size / 1e6:.1f} MB, more than a logo needs; give a PNG or SVG of at most "
                            f"{MAX_LOGO_BYTES / 1e6:g} MB") from None
        raise LogoError(f"is not a regular file; {FIX}") from None
    except OSError as err:
        raise LogoError(f"cannot be read ({_reason(err)}); {FIX}") from None
    if not data:
        raise LogoError(f"is an empty file; {FIX}")
    if data.startswith(PNG_SIGNATURE):
        width, height = _png_size(data)
        kind = "png"
    elif _looks_like_xml(data):
        width, height = _svg_size(data)
        kind = "svg"
    else:
        raise LogoError(f"is not a PNG or SVG file; {FIX}")
    return Logo(Path(os.path.abspath(path)), kind, width, height, hashlib.sha256(data).hexdigest(), data)


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG that Pillow reads whole: its chunks' checksums, then every pixel."""
    import io
    import struct

    broken = "is a damaged PNG file ({}); save it again as a PNG, or give an SVG"
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise LogoError(broken.format("no image header"))
    width, height = struct.unpack(">II", data[16:24])  # read before Pillow: a huge size is refused, not decoded
    if not (1 <= width <= MAX_LOGO_PIXELS and 1 <= height <= MAX_LOGO_PIXELS):
        raise LogoError(f"is {width} x {height} pixels, but a logo is 1 to {MAX_LOGO_PIXELS} pixels each way; "
                        "scale it to fit")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.verify()  # the chunks and their checksums
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()  # and every pixel decoded
    except Exception as err:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
        reason = _first_line(err)
        if reason.startswith("broken PNG file (") and reason.endswith(")"):
            reason = reason[len("broken PNG file ("):-1]
        raise LogoError(broken.format(reason)) from None
    return width, height


def _looks_like_xml(data: bytes) -> bool:
    """Text that starts as XML does (a byte-order mark and blank space allowed): what an SVG file starts with."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(codec, "ignore").lstrip().startswith("<")
    return data.lstrip().startswith(b"<")


def _svg_size(data: bytes) -> tuple[float, float]:
    """(width, height) of an SVG in its own units: its viewBox's, else its width and height; ``LogoError`` for
    XML that does not parse, declares entities (never expanded), is not an SVG, has no size or draws nothing."""
    from xml.parsers import expat

    found = {"root": None, "attributes": {}, "count": 0, "shapes": 0}

    def start(name, attributes):
        if found["root"] is None:
            found["root"], found["attributes"] = _local(name), attributes
        found["count"] += 1
        found["shapes"] += _local(name) in SVG_SHAPES
        if found["count"] > MAX_SVG_ELEMENTS:
            raise LogoError(f"is an SVG of more than {MAX_SVG_ELEMENTS} elements, more than a logo needs; simplify "
                            "it, or give a PNG")

    def no_entities(*_args):
        raise LogoError("declares XML entities, which a logo never needs; save it again as a plain SVG")

    parser = expat.ParserCreate(namespace_separator="}")  # "http://www.w3.org/2000/svg}svg"
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)  # no external DTD is ever read
    parser.StartElementHandler = start
    parser.EntityDeclHandler = no_entities
    try:
        parser.Parse(data, True)
    except LogoError:
        raise
    except (expat.ExpatError, ValueError, RecursionError) as err:
        raise LogoError(f"is not well-formed XML ({_first_line(err)}); save it again as an SVG, or give a PNG") \
            from None
    if found["root"] != "svg":
        raise LogoError(f"is an XML file whose root element is <{found['root']}>, not <svg>; {FIX}")
    if not found["shapes"]:
        raise LogoError("is an SVG without a path or shape in it, so nothing would be drawn (its text must be "
                        "converted to paths); give an SVG of paths, or a PNG")
    root = found["attributes"]
    box = (root.get("viewBox") or "").replace(",", " ").split()
    try:
        width, height = (float(box[2]), float(box[3])) if len(box) == 4 else (_length(root.get("width")),
                                                                              _length(root.get("height")))
    except ValueError:
        width = height = 0.0
    if not (0 < width < float("inf") and 0 < height < float("inf")):
        raise LogoError("is an SVG without a usable size; give its <svg> element a viewBox (such as "
                        "viewBox=\"0 0 400 120\") or a width and a height")
    return width, height


def _length(value: str | None) -> float:
    match = _LENGTH.fullmatch(value or "")
    if not match:
        raise ValueError(value)
    return float(match.group(1))


def _local(tag) -> str:
    """An element's name without its namespace: "{http://www.w3.org/2000/svg}svg" -> "svg"."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _first_line(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return text[:120]


def _reason(err: OSError) -> str:
    reason = err.strerror or type(err).__name__
    return reason[:1].lower() + reason[1:]


__all__ = ["Logo", "LogoError", "MAX_LOGO_BYTES", "MAX_LOGO_PIXELS", "MAX_SVG_ELEMENTS", "digest", "read_logo"]
