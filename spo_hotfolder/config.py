"""The daemon's configuration: YAML -> validated, frozen Config.

Every error is reported as ``file:line: key.path: message``, all of them at once; unknown keys are
errors. Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning", "off"]
CHECK_NAMES: tuple[str, ...] = ("pages", "trim", "bleed", "fonts", "mixed_sizes", "encryption")
DEFAULT_SEVERITY: Mapping[str, Severity] = {
    "pages": "error",
    "trim": "error",
    "bleed": "error",
    "fonts": "error",
    "mixed_sizes": "warning",
    "encryption": "warning",
}
FOLDER_NAMES: tuple[str, ...] = ("inbox", "work", "quarantine", "failed", "done", "rejected", "state")
DEFAULT_IGNORE: tuple[str, ...] = (".*", "~$*", "*.tmp", "*.part", "*.crdownload", "Thumbs.db", "desktop.ini")


class ConfigError(Exception):
    """The config is invalid; ``errors`` holds every problem as ``file:line: key.path: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class PathsConfig:
    root: Path
    inbox: Path
    work: Path
    quarantine: Path
    failed: Path
    done: Path
    rejected: Path
    state: Path

    def spool_folders(self) -> dict[str, Path]:
        return {name: getattr(self, name) for name in FOLDER_NAMES}


@dataclass(frozen=True, slots=True)
class WatchConfig:
    mode: Literal["auto", "native", "polling"] = "auto"
    poll_interval_seconds: float = 2.0
    settle_seconds: float = 1.0
    rescan_seconds: float = 60.0
    artwork_timeout_seconds: float = 3600.0
    ignore: tuple[str, ...] = DEFAULT_IGNORE


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    block_on_arrival: bool = False
    products: tuple[str, ...] = ()

    def blocks(self, product: str) -> bool:
        """True when the config's rules block a job for ``product`` (the manifest may override)."""
        if self.block_on_arrival:
            return True
        return any(fnmatch.fnmatchcase(product, pattern) for pattern in self.products)


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    require_embedded_fonts: bool = True
    size_tolerance_mm: float = 1.0
    checks: Mapping[str, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def severity(self, check: str) -> Severity:
        if check == "fonts" and not self.require_embedded_fonts:
            return "off"
        return self.checks.get(check, DEFAULT_SEVERITY[check])


@dataclass(frozen=True, slots=True)
class ProductSpec:
    pattern: str
    trim_mm: tuple[float, float] | None = None
    bleed_mm: float | None = None
    pages: int | None = None


@dataclass(frozen=True, slots=True)
class HotFolderConfig:
    name: str
    path: Path
    filename: str = "{order_id}_{job_id}_{product}_x{quantity}.pdf"
    staging: Path | None = None
    ticket: Literal["none", "json"] = "none"


@dataclass(frozen=True, slots=True)
class RouteRule:
    number: int  # 1-based position in `routes`, as shown to people ("route 2")
    when: Mapping[str, str]  # key ("product", "customer", "order_id", "attributes.<k>") -> glob
    to: str  # a hot folder name, or "skip"


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    max_attempts: int = 5
    backoff_seconds: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 1800.0)

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure (the last value repeats)."""
        index = max(0, min(failed_attempts - 1, len(self.backoff_seconds) - 1))
        return self.backoff_seconds[index]


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    done_days: float = 30.0


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: str | None = None  # "host:port"

    def address(self) -> tuple[str, int] | None:
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


@dataclass(frozen=True, slots=True)
class Config:
    source: Path
    paths: PathsConfig
    watch: WatchConfig
    blocking: BlockingConfig
    validation: ValidationConfig
    products: tuple[ProductSpec, ...]
    hot_folders: Mapping[str, HotFolderConfig]
    routes: tuple[RouteRule, ...]
    delivery: DeliveryConfig
    retention: RetentionConfig
    metrics: MetricsConfig
    logging: LoggingConfig

    def product_spec(self, product: str) -> ProductSpec | None:
        """The first product spec whose glob matches ``product``, in config order."""
        for spec in self.products:
            if fnmatch.fnmatchcase(product, spec.pattern):
                return spec
        return None


def load_config(path: Path) -> Config:
    """Reads and validates ``path``; raises ConfigError listing every problem."""
    raise NotImplementedError


def summary(config: Config) -> str:
    """A short human summary for ``check-config``: folders, hot folders, routes."""
    raise NotImplementedError
