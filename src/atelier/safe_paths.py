"""Folders a command replaces (`atelier export --to`, `atelier synth --out`): never one that holds something else.

A target is refused when it is the filesystem root, the home directory, the working directory, the
project checkout, or a folder above one of them; when it overlaps a platform folder (lake,
metastore, MLflow store and artifacts, cache, reports); or when it exists, is not empty, and is not
what a previous run of the same command wrote (its marker file, and nothing but its own entries).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from atelier.config.platform import PlatformConfig
from atelier.errors import InputRefused
from atelier.spark import lake

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SQLITE = "sqlite:///"


@dataclass(frozen=True)
class Output:
    """What a command writes into its folder: always `marker`, and only entries matching `entries`."""

    command: str
    marker: str
    entries: tuple[str, ...]


def platform_folders(platform: PlatformConfig) -> list[Path]:
    """The platform's local folders: lake (unless in object storage), metastore, cache, reports, MLflow's SQLite store and artifacts."""
    folders = [
        f
        for f in (platform.lake_root, platform.metastore_dir, platform.cache_dir, platform.reports_dir)
        if not lake.is_uri(f)
    ]
    for uri in (platform.mlflow.tracking_uri, platform.mlflow.registry_uri):
        if uri and uri.startswith(SQLITE):
            folders.append(str(Path(uri.removeprefix(SQLITE)).parent))
    artifacts = platform.mlflow.artifact_root
    if "://" not in artifacts or artifacts.startswith("file://"):
        folders.append(artifacts.removeprefix("file://"))
    return [Path(f).resolve() for f in folders]


def check_replaceable(target: Path, output: Output, argument: str, protected: Iterable[Path] = ()) -> Path:
    """`target`, resolved, if `output`'s command may replace it; else InputRefused naming `argument`."""
    target = target.resolve()
    guarded = {
        "the filesystem root": Path(target.anchor),
        "the home directory": Path.home(),
        "the working directory": Path.cwd(),
        "the project checkout": PROJECT_ROOT,
    }
    for name, folder in guarded.items():
        if folder.resolve().is_relative_to(target):
            above = "" if folder.resolve() == target else " or a folder above it"
            raise InputRefused(
                f"{argument} {target}: refusing to replace {name} ({folder.resolve()}){above}; give a folder of its own"
            )
    for folder in protected:
        if target.is_relative_to(folder) or folder.is_relative_to(target):
            raise InputRefused(f"{argument} {target}: overlaps the platform folder {folder}; give a folder outside it")
    if target.exists() and not target.is_dir():
        raise InputRefused(f"{argument} {target}: is a file, not a folder")
    if target.is_dir() and any(target.iterdir()):
        foreign = sorted(
            p.name
            for p in target.iterdir()
            if not any(fnmatch.fnmatchcase(p.name, pattern) for pattern in output.entries)
        )
        if foreign or not (target / output.marker).is_file():
            found = f"it holds {foreign[:5]}" if foreign else f"it has no {output.marker}"
            raise InputRefused(
                f"{argument} {target}: not empty and not written by {output.command} ({found}); "
                "remove it yourself or give another folder"
            )
        log.info("replacing %s, written by an earlier %s", target, output.command)
    return target
