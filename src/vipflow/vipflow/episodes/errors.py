"""Named failures of the episode store.

Every message names the file and the fix, because the person reading it is usually in the middle
of a recording session or a training run and must decide quickly whether data is at risk.
"""

from __future__ import annotations

from vipflow import durable


class EpisodeError(RuntimeError):
    """Base class: something about an episode or a dataset directory is wrong."""


class EpisodeNotFoundError(EpisodeError, FileNotFoundError):
    """The path is not an episode directory (no metadata.yaml / MCAP file)."""


class TruncatedBagError(EpisodeError):
    """The MCAP file ends early (recorder killed, disk full): it has no footer or summary."""


class CorruptBagError(EpisodeError):
    """The bag's bytes or metadata cannot be parsed (bad magic, bad record, unreadable YAML)."""


class MetadataError(EpisodeError, ValueError):
    """``episode.json`` or the metadata in ``metadata.yaml`` is malformed (wrong types, not an object)."""


class TimestampError(EpisodeError):
    """A stream's stamps go backwards (the recording clock jumped): no causal grid can be built."""


class MissingMessagesError(EpisodeError):
    """The bag holds fewer (or more) messages than were recorded, or robot-state streams disagree."""


class MissingTopicError(EpisodeError):
    """A topic the caller needs is absent from the episode or has no messages."""


class ImageEncodingError(EpisodeError):
    """An image message is not rgb8/bgr8 (raw) or jpeg/png (compressed), or its size, step or
    encoding disagrees with its data or with the episode's camera configuration."""


class IncompleteEpisodeError(EpisodeError):
    """The episode was recovered from an interrupted recording; opt in to use it."""


class EpisodeWriteError(durable.OutputError, EpisodeError):
    """Writing an episode failed; the partial episode is kept for recovery."""


class DatasetNotWritableError(EpisodeWriteError):
    """The dataset directory cannot be created or written (permissions, read-only mount)."""


class DiskFullError(EpisodeWriteError, durable.DiskFullError):
    """The disk (or quota) filled up while writing."""


class IncompatibleSessionError(EpisodeError):
    """Resuming a session whose camera/robot/task configuration differs from the recorded one."""
