"""Where Keras keeps its files and which backend it uses, read as Keras reads them, without importing Keras."""

from __future__ import annotations

import json
import os
from pathlib import Path


def keras_home() -> Path:
    """`$KERAS_HOME`, else `~/.keras`: where Keras keeps keras.json and its downloads."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def keras_backend() -> str:
    """The backend Keras will use: `$KERAS_BACKEND`, else keras.json's, else tensorflow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    try:
        return json.loads((keras_home() / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"
