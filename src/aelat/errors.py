"""aelat's exceptions: library code raises these; the CLI turns them into one line and exit 1.

A bad value is also a ``ValueError`` (ConfigError, DataError), so Python code may catch it as one.
"""


class AelatError(Exception):
    """Base class: the message is one line that says what is wrong and how to fix it."""


class ConfigError(AelatError, ValueError):
    """An invalid or unknown configuration value."""


class DataError(AelatError, ValueError):
    """A dataset that cannot be loaded or has the wrong content."""


class ArtifactError(AelatError):
    """A missing, corrupt or unreadable run artifact."""


class StaleArtifactError(ArtifactError):
    """An artifact made under another configuration than the one asked for."""


class TrainingError(AelatError):
    """Training diverged (NaN or inf loss)."""


class RunInUseError(ArtifactError):
    """Another aelat process holds the run folder's lock."""
