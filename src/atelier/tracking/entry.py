"""The registry's commands: `atelier serve`, `export` and `ui`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from atelier.command import Command
from atelier.errors import ConfigError
from atelier.runtime import add_use_case_args

if TYPE_CHECKING:
    from atelier.config.use_case import UseCaseConfig

log = logging.getLogger("atelier")


def _registry_use_case(args: argparse.Namespace) -> tuple[str, UseCaseConfig]:
    """The use case, with MLflow pointed at the platform's store (no Spark needed); (tracking URI, use case)."""
    from atelier.config.loader import load_platform, load_use_case
    from atelier.tracking.store import use_platform

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    return use_platform(platform), load_use_case(args.use_case, args.conf_dir, args.env, args.overrides)


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve a use case's model alias over HTTP on 127.0.0.1 (MLflow's scoring server, this environment)."""
    from atelier.tracking import registry

    uri, use_case = _registry_use_case(args)
    version = registry.alias_version(use_case.model_name, args.alias)
    if version is None:
        raise ConfigError(f"model {use_case.model_name} has no alias '{args.alias}' (atelier promote ...)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{use_case.model_name}@{args.alias}",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--env-manager",
        "local",
    ]
    log.info(
        "serving %s version %s (%s) on http://127.0.0.1:%d/invocations",
        use_case.model_name,
        version,
        args.alias,
        args.port,
    )
    bin_dir = Path(sys.executable).parent  # MLflow starts `uvicorn` from PATH: this environment's
    os.execve(
        sys.executable,
        command,
        {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument("--alias", default="champion", help="registry alias (default champion)")
    parser.add_argument("--port", type=int, default=5001)


def cmd_export(args: argparse.Namespace) -> None:
    from atelier.config.loader import load_platform
    from atelier.safe_paths import platform_folders

    if args.format == "onnx":
        from atelier.tracking.onnx_export import export_onnx as export
    else:
        from atelier.tracking.export import export

    _, use_case = _registry_use_case(args)
    protected = platform_folders(load_platform(args.conf_dir, args.env, args.overrides))
    print(export(use_case, args.alias, args.to, protected))


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument("--alias", default="champion", help="registry alias (default champion)")
    parser.add_argument("--format", choices=["mlflow", "onnx"], default="mlflow", help="what to write (default mlflow)")
    parser.add_argument(
        "--to",
        type=Path,
        required=True,
        help="target folder: new, empty, or an earlier export of "
        "the same format (replaced); any other folder is refused",
    )


def cmd_ui(args: argparse.Namespace) -> None:
    """Start the MLflow UI on 127.0.0.1 over the platform's tracking store and registry."""
    from atelier.config.loader import load_platform
    from atelier.tracking.store import resolve_uri

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--backend-store-uri",
        resolve_uri(platform.mlflow.tracking_uri),
        "--default-artifact-root",
        Path(platform.mlflow.artifact_root).resolve().as_uri(),
    ]
    if platform.mlflow.registry_uri:
        command += ["--registry-store-uri", resolve_uri(platform.mlflow.registry_uri)]
    log.info("MLflow UI on http://127.0.0.1:%d (Ctrl-C stops it)", args.port)
    os.execv(sys.executable, command)


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", choices=["mlflow"])
    parser.add_argument("--port", type=int, default=5000)


SERVE = Command(
    "serve",
    "Serve the model behind an alias over HTTP on 127.0.0.1 (POST /invocations with feature rows; the same "
    "answers as the score job).",
    "--use-case flights_delay --alias champion",
    cmd_serve,
    add_serve_arguments,
)
EXPORT = Command(
    "export",
    "Write the model behind an alias as a self-contained folder: --format mlflow (pyfunc with its code, "
    "pinned requirements, README; loads with mlflow.pyfunc.load_model without atelier) or --format onnx (one ONNX "
    "graph with the preprocessing, and manifest.json, for the Java library in java/; checked against the pyfunc).",
    "--use-case flights_delay --alias champion --format onnx --to var/export/flights_delay_onnx",
    cmd_export,
    add_export_arguments,
)
UI = Command(
    "ui", "Start a UI on 127.0.0.1: mlflow (runs, charts, registry).", "mlflow --port 5000", cmd_ui, add_ui_arguments
)
