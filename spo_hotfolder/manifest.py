"""Order manifests: bytes -> Manifest (pure; no filesystem access).

A manifest is JSON or YAML, in the order form (``jobs: [...]``) or the single-job form (the keys of
one job beside ``order_id``). Every problem is reported at once: parse errors with line and column,
schema errors with the key path (and the line where it is known), each with a hint how to fix it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ArtworkRef:
    path: str  # relative POSIX path inside the manifest's folder, normalised, never '..'
    sha256: str | None = None  # lower-case hex, 64 chars


@dataclass(frozen=True, slots=True)
class JobSpec:
    job_id: str
    product: str
    quantity: int
    artwork: tuple[ArtworkRef, ...]
    hot_folder: str | None = None
    attributes: Mapping[str, Any] = None  # type: ignore[assignment]  # set to {} by the parser


@dataclass(frozen=True, slots=True)
class Manifest:
    order_id: str
    jobs: tuple[JobSpec, ...]
    format: Literal["json", "yaml"]
    customer: str | None = None
    blocked: bool | None = None  # None: the config's blocking rules decide
    process_after: datetime | None = None  # timezone-aware UTC
    reprint: bool = False


class ManifestError(Exception):
    """The manifest cannot be used; ``problems`` lists every problem in plain words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_manifest(data: bytes, filename: str, hot_folders: Collection[str]) -> Manifest:
    """Parses and validates a manifest; ``filename`` picks the format by extension."""
    raise NotImplementedError
