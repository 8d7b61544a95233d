"""Named failures of the episode store.

Every message names the file and the fix, because the person reading it is usually in the middle
of a recording session or a training run and must decide quickly whether data is at risk.
"""

from __future__ import annotations


class EpisodeError(RuntimeError):
    """Base class: something about an episode or a dataset directory is wrong."""


class EpisodeNotFoundError(EpisodeError, FileNotFoundError):
    """The path is not an episode directory (no metadata.yaml / MCAP file)."""


class TruncatedBagError(EpisodeError):
    """The MCAP file ends early (recorder killed, disk full): it has no footer or summary."""


class CorruptBagError(EpisodeError):
    """The bag's bytes or metadata cannot be parsed (bad magic, bad record, unreadable YAML)."""


class MissingTopicError(EpisodeError):
    """A topic the caller needs is absent from the episode or has no messages."""


class ImageEncodingError(EpisodeError):
    """An image message is not rgb8/bgr8 (raw) or jpeg/png (compressed), or its size is wrong."""


class IncompleteEpisodeError(EpisodeError):
    """The episode was recovered from an interrupted recording; opt in to use it."""


class EpisodeWriteError(EpisodeError, OSError):
    """Writing an episode failed; the partial episode is kept for recovery."""


class DatasetNotWritableError(EpisodeWriteError):
    """The dataset directory cannot be created or written (permissions, read-only mount)."""


class DiskFullError(EpisodeWriteError):
    """The disk (or quota) filled up while writing."""


class IncompatibleSessionError(EpisodeError):
    """Resuming a session whose camera/robot/task configuration differs from the recorded one."""
