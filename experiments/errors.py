"""One exception type for every mistake a user can make.

Anything raised as `Pw09Error` is printed by `tasks.py` as a single sentence (what is
wrong, what to do) with a non-zero exit code and no traceback. Bugs stay tracebacks.
"""


class Pw09Error(Exception):
    """A user-facing error: its message names the problem and the fix."""


class DataError(Pw09Error):
    """The data source is missing, unreadable or not CIFAR-10 shaped."""


class ConfigError(Pw09Error):
    """Unknown experiment, profile or option value."""


class ReportError(Pw09Error):
    """A template or prose file cannot be rendered, or a checked claim failed under --strict."""


class Interrupted(Pw09Error):
    """Ctrl-C while training: says where the run stopped and how to continue (exit code 130)."""
