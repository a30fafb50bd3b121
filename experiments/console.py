"""Keeps the backend's C++ start-up chatter off the terminal, unless the user asks for it.

TensorFlow 2.21 writes lines such as `I0000 00:00:… cudart_stub.cc:31] Could not find
cuda drivers`, `E0000 … cuInit`, `NodeDef mentions attribute use_unbounded_threadpool`
and "rebuild TensorFlow with the appropriate compiler flags" straight to file descriptor
2, some of them before `TF_CPP_MIN_LOG_LEVEL` is even read. `quiet()` therefore puts a
filter on descriptor 2 itself: lines in that C++ log format are dropped, everything else
(Python warnings, tracebacks, our own messages) passes through unchanged. One line of
TensorFlow's Python log is dropped too (`RETRACING`); its other warnings pass.
`--verbose` or `PW09_VERBOSE=1` leaves the terminal untouched.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

VERBOSE_ENV = "PW09_VERBOSE"
NOISE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] "  # absl / TF C++ log line
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow)"
)
# "5 out of the last 9 calls to <function …one_step_on_data_distributed> triggered tf.function
# retracing. Tracing is expensive …": Keras gives each model its own predict function, and
# TensorFlow counts the traces of all of them together, so a build that evaluates six models
# printed this paragraph twice. Nothing retraces in a loop; it is advice to Keras' authors.
RETRACING = "triggered tf.function retracing"
_installed = False


def _not_retracing(record: logging.LogRecord) -> bool:
    return RETRACING not in record.getMessage()


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def noise(line: bytes) -> bool:
    """Whether one line of stderr is backend start-up chatter."""
    return bool(NOISE.match(line))


def quiet(requested_verbose: bool = False) -> None:
    """Filter descriptor 2 for the rest of the process (once), unless verbose."""
    global _installed
    if requested_verbose:
        os.environ[VERBOSE_ENV] = "1"  # child processes (bench's builds) inherit it
    if verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if _installed:
        return
    _installed = True
    logging.getLogger("tensorflow").addFilter(_not_retracing)  # the logger TensorFlow's Python side writes to
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        pending = b""
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not noise(line))
            if kept:
                os.write(real, kept)
        if pending and not noise(pending):
            os.write(real, pending)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the pump reads to the end
        thread.join(timeout=2)

    atexit.register(restore)
