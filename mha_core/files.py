"""Files the core writes and checks: one sha256 helper, byte-deterministic safetensors.

Torch is imported only when a tensor file is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path


def sha256_file(path: str | os.PathLike) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_safetensors(tensors: dict, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``tensors`` (name -> tensor) to ``path`` as safetensors, the same bytes for the same input.

    safetensors keeps the header's metadata in a hash map, so its key order (and the file's
    bytes) change from process to process; here the header is written again with the keys
    sorted. Written to a temporary name in the same folder, then moved into place.
    """
    from safetensors.torch import save

    # Clone: tensors may share storage (e.g. ``masked`` is ``scaled`` when nothing is masked).
    tensors = {str(k): v.detach().cpu().clone().contiguous() for k, v in tensors.items()}
    data = save(tensors, metadata={str(k): str(v) for k, v in (metadata or {}).items()} or None)
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data that follows stays 8-byte aligned
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            f.write(data[8 + length:])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
