"""Episodes: rosbag2 (MCAP) recordings of demos and rollouts, and everything that touches them.

See docs/episodes.md for the format and the commands.
"""

from vipflow.episodes.cadence import CadenceReport, CadenceThresholds, StreamCadence, cadence_report
from vipflow.episodes.dataset import EpisodeSummary, list_episodes, usable_episodes, write_manifest
from vipflow.episodes.errors import (
    CorruptBagError,
    DatasetNotWritableError,
    DiskFullError,
    EpisodeError,
    EpisodeNotFoundError,
    EpisodeWriteError,
    ImageEncodingError,
    IncompatibleSessionError,
    IncompleteEpisodeError,
    MetadataError,
    MissingMessagesError,
    MissingTopicError,
    TimestampError,
    TruncatedBagError,
)
from vipflow.episodes.meta import LABELS, EpisodeMeta
from vipflow.episodes.reader import Episode, GridEpisode, StateStreams, read_episode
from vipflow.episodes.writer import EpisodeWriter

__all__ = [
    "LABELS",
    "CadenceReport",
    "CadenceThresholds",
    "CorruptBagError",
    "DatasetNotWritableError",
    "DiskFullError",
    "Episode",
    "EpisodeError",
    "EpisodeMeta",
    "EpisodeNotFoundError",
    "EpisodeSummary",
    "EpisodeWriteError",
    "EpisodeWriter",
    "GridEpisode",
    "ImageEncodingError",
    "IncompatibleSessionError",
    "IncompleteEpisodeError",
    "MetadataError",
    "MissingMessagesError",
    "MissingTopicError",
    "StateStreams",
    "StreamCadence",
    "TimestampError",
    "TruncatedBagError",
    "cadence_report",
    "list_episodes",
    "read_episode",
    "usable_episodes",
    "write_manifest",
]
