"""Pictures: a raster image (``Picture``, an RGBA array) that Manim 0.22's Cairo camera draws with this Pillow.

    pic = Picture(rgba)            # an ImageMobject of a uint8 array, height x width x 4
    pic.scale_to_fit_height(0.45)  # placed like any mobject; drawn upright (never rotated or skewed)

Manim 0.22 draws an ``ImageMobject`` through a full-frame ``Image.fromarray(np.zeros(...), mode="RGBA")``, which
Pillow 13 refuses (a float array is not RGBA). The first ``Picture`` installs a camera method that draws an upright
image itself: resized to the pixels it covers and blended over just that part of the frame (the same result for
an upright image, in less time); any other image mobject is drawn as Manim draws it.
"""

from __future__ import annotations

import numpy as np
from manim import ImageMobject


class Picture(ImageMobject):
    """An upright raster picture from an RGBA array (uint8, height x width x 4)."""

    def __init__(self, rgba: np.ndarray, **kwargs):
        install_picture_drawing()
        super().__init__(np.ascontiguousarray(rgba, dtype=np.uint8), **kwargs)


def install_picture_drawing() -> None:
    """Draw ``Picture``s with the camera method below (once per process; Manim's own for other images)."""
    from manim.camera.camera import Camera

    if getattr(Camera.display_image_mobject, "draws_pictures", False):
        return
    manims = Camera.display_image_mobject

    def display_image_mobject(self, image_mobject, pixel_array):
        if not isinstance(image_mobject, Picture) or not _draw_upright(self, image_mobject, pixel_array):
            manims(self, image_mobject, pixel_array)

    display_image_mobject.draws_pictures = True
    Camera.display_image_mobject = display_image_mobject


def _draw_upright(camera, picture: Picture, pixel_array: np.ndarray) -> bool:
    """Blend ``picture`` into ``pixel_array`` where the camera shows it; False when it is not upright (rotated or
    skewed: left to Manim)."""
    from PIL import Image

    corners = camera.points_to_subpixel_coords(picture, picture.points)  # UL, UR, DL, DR
    (ulx, uly), (urx, ury), (dlx, dly), (drx, dry) = corners[:4]
    if abs(uly - ury) > 0.5 or abs(ulx - dlx) > 0.5 or abs(dly - dry) > 0.5 or abs(urx - drx) > 0.5:
        return False
    x0, x1 = int(round(min(ulx, dlx))), int(round(max(urx, drx)))
    y0, y1 = int(round(min(uly, ury))), int(round(max(dly, dry)))
    if x1 <= x0 or y1 <= y0:
        return True  # nothing to draw
    height, width = pixel_array.shape[:2]
    cx0, cx1, cy0, cy1 = max(x0, 0), min(x1, width), max(y0, 0), min(y1, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return True  # off the frame
    size = (x1 - x0, y1 - y0)
    cached = getattr(picture, "_shown", None)  # resized once per size: a still logo is drawn on every frame
    if cached is None or cached[0] != size:
        source = Image.fromarray(np.ascontiguousarray(picture.get_pixel_array(), dtype=np.uint8))
        if source.mode != "RGBA":
            source = source.convert("RGBA")
        cached = picture._shown = (size, source.resize(size, Image.Resampling.LANCZOS))
    shown = cached[1].crop((cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0))
    region = Image.fromarray(np.ascontiguousarray(pixel_array[cy0:cy1, cx0:cx1]))
    pixel_array[cy0:cy1, cx0:cx1] = np.asarray(Image.alpha_composite(region, shown))
    return True


__all__ = ["Picture", "install_picture_drawing"]
