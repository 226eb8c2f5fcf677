"""Load YAML configuration: base, then the environment's overlay, then `--set key.path=value`.

Every value remembers the file that set it, so a validation error names the file and the key path.
`${VAR}` is substituted only in secret-bearing keys (passwords, tokens, URIs); an unset variable is
an error, never an empty string.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.errors import ConfigError
from atelier.identifiers import check_identifier

log = logging.getLogger(__name__)

CONF_DIR_ENV = "ATELIER_CONF_DIR"
FREE_FORM = "extra_conf"  # a mapping whose keys are dotted names (`--set spark.extra_conf.spark.x.y=v`)
ENV_ENV = "ATELIER_ENV"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEY = re.compile(r"(password|secret|token|credential|_uri$|^uri$)", re.IGNORECASE)
Model = TypeVar("Model", bound=BaseModel)
# The defaults of the keys that were common to all kinds of a join, feature, rule or arm before r24.
_FLAT_DEFAULTS: dict[str, Any] = {
    "left_time": None,
    "right_time": None,
    "tolerance_hours": None,
    "time_alias": None,
    "cyclic": None,
    "column": None,
    "columns": [],
    "min": None,
    "max": None,
    "values": [],
    "pattern": None,
    "condition": None,
    "min_rows": 1,
    "min_ratio": None,
    "max_ratio": None,
    "trailing_days": 7,
    "max_age_hours": None,
    "share": 0.0,
}
KeyPath = tuple[str, ...]


def default_conf_dir() -> Path:
    """`$ATELIER_CONF_DIR`, else `conf/` of the current directory."""
    return Path(os.environ.get(CONF_DIR_ENV, "conf"))


def load_platform(
    conf_dir: Path | None = None, env: str | None = None, overrides: list[str] | None = None
) -> PlatformConfig:
    """The platform config: `base/platform.yaml`, overlaid by `<env>/platform.yaml` and overrides."""
    layers = _layers(conf_dir, env, "platform.yaml", required=True)
    return _build(PlatformConfig, layers, _route(overrides, "platform"))


def load_use_case(
    name: str,
    conf_dir: Path | None = None,
    env: str | None = None,
    overrides: list[str] | None = None,
) -> UseCaseConfig:
    """A use case by name from `base/use_cases/<name>.yaml` (with `extends`), overlaid like the platform."""
    conf = conf_dir or default_conf_dir()
    layers = _resolve_extends(name, conf, env, seen=())
    return _build(UseCaseConfig, layers, _route(overrides, "use_case"))


def use_case_from_mapping(data: dict, origin: str, overrides: list[str] | None = None) -> UseCaseConfig:
    """A use case from an already resolved mapping (e.g. a past run's config), with `--set` overrides."""
    data = _without_flat_defaults(copy.deepcopy(data))
    return _build(UseCaseConfig, [(Path(origin), data)], _route(overrides, "use_case"))


def _without_flat_defaults(data: dict) -> dict:
    """`data` less the keys of other kinds that runs logged before joins, features, rules and arms were
    one model per kind hold at their then defaults (`left_time: null` on a lookup join)."""
    try:
        UseCaseConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            path, kind = _key_path(err, data)
            if err["type"] == "extra_forbidden" and kind and err["input"] == _FLAT_DEFAULTS.get(path[-1], ...):
                parent: Any = data
                for part in path[:-1]:
                    parent = parent[int(part)] if isinstance(parent, list) else parent[part]
                del parent[path[-1]]
    return data


def list_use_cases(conf_dir: Path | None = None) -> list[str]:
    folder = (conf_dir or default_conf_dir()) / "base" / "use_cases"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _resolve_extends(name: str, conf: Path, env: str | None, seen: tuple[str, ...]) -> list[tuple[Path, dict]]:
    check_identifier(name, f"use case '{seen[-1]}': extends" if seen else "--use-case")  # a file name: no '/', '..'
    if name in seen:
        raise ConfigError(f"use case '{name}': 'extends' forms a cycle {' -> '.join(seen + (name,))}")
    layers = _layers(conf, env, f"use_cases/{name}.yaml", required=True)
    parent = next((d.get("extends") for _, d in reversed(layers) if "extends" in d), None)
    for _, data in layers:
        data.pop("extends", None)
    if parent is None:
        return layers
    return _resolve_extends(str(parent), conf, env, seen + (name,)) + layers


def _layers(conf_dir: Path | None, env: str | None, relpath: str, required: bool) -> list[tuple[Path, dict]]:
    conf = conf_dir or default_conf_dir()
    env = env if env is not None else os.environ.get(ENV_ENV)
    if env:
        check_identifier(env, f"--env (or ${ENV_ENV})")  # a folder name: no '/', '..'
    base = conf / "base" / relpath
    if required and not base.is_file():
        raise ConfigError(f"{base}: file not found (is the working directory the project root?)")
    layers = [(base, _read_yaml(base))]
    if env:
        env_dir = conf / env
        if not env_dir.is_dir():
            raise ConfigError(f"{env_dir}: environment '{env}' has no folder of overlays")
        overlay = env_dir / relpath
        if overlay.is_file():
            layers.append((overlay, _read_yaml(overlay)))
    return layers


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _route(overrides: list[str] | None, target: str) -> list[str]:
    """Keep the `--set` items meant for `target`: prefixed `platform.`/`use_case.`, or a top-level key of it."""
    model = PlatformConfig if target == "platform" else UseCaseConfig
    other = UseCaseConfig if target == "platform" else PlatformConfig
    kept = []
    for item in overrides or []:
        key = item.split("=", 1)[0]
        head, _, rest = key.partition(".")
        if head == target:
            if not rest:
                raise ConfigError(f"--set {item}: give a key below '{target}', e.g. {target}.KEY=VALUE")
            kept.append(item.split(".", 1)[1])
        elif head in ("platform", "use_case"):
            continue
        elif head in model.model_fields:
            kept.append(item)
        elif head not in other.model_fields:
            raise ConfigError(f"--set {item}: unknown key '{head}' (prefix with platform. or use_case.)")
    return kept


def _build(model: type[Model], layers: list[tuple[Path, dict]], overrides: list[str]) -> Model:
    merged: dict = {}
    origin: dict[KeyPath, str] = {}
    for path, data in layers:
        _merge(merged, copy.deepcopy(data), origin, str(path), ())
    for item in overrides:
        _apply_override(merged, item, origin)
    _substitute(merged, origin, ())
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, merged, origin, layers[0][0])) from None


def _merge(into: dict, data: dict, origin: dict[KeyPath, str], source: str, prefix: KeyPath) -> None:
    """Deep-merge mappings; lists and scalars are replaced whole."""
    for key, value in data.items():
        path = prefix + (str(key),)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin, source, path)
        else:
            into[key] = value
            origin[path] = source


def _apply_override(merged: dict, item: str, origin: dict[KeyPath, str]) -> None:
    if "=" not in item:
        raise ConfigError(f"--set {item}: expected key.path=value")
    key, raw = item.split("=", 1)
    parts = key.split(".")
    if FREE_FORM in parts[:-1]:  # Spark settings have dots: the rest of the path is one key
        i = parts.index(FREE_FORM) + 1
        parts = [*parts[:i], ".".join(parts[i:])]
    node: Any = merged
    for part in parts[:-1]:
        node = _child(node, part, item, create=True)
    last = parts[-1]
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item}: the value is not valid YAML: {exc}") from None
    if isinstance(node, list):
        node[_index(node, last, item)] = value
    else:
        node[last] = value
    origin[tuple(parts)] = f"--set {item}"


def _child(node: Any, part: str, item: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, item)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item}: '{part}' is below a value that is not a mapping")
    if part not in node and create:
        node[part] = {}
    return node[part]


def _index(node: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {item}: '{part}' is not an index of a list of {len(node)}")
    return int(part)


def _substitute(node: Any, origin: dict[KeyPath, str], path: KeyPath) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        here = path + (str(key),)
        if isinstance(value, (dict, list)):
            _substitute(value, origin, here)
        elif isinstance(value, str) and _VAR.search(value):
            where = f"{_origin_of(origin, here)}: {'.'.join(here)}"
            if not _SECRET_KEY.search(str(key)):
                raise ConfigError(
                    f"{where}: ${{VAR}} substitution is for secrets only (password, token, secret, *_uri); "
                    "put environment-specific values in an overlay under conf/<env>/"
                )
            node[key] = _VAR.sub(lambda m: _env_value(m.group(1), where), value)


def _env_value(name: str, where: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"{where}: environment variable {name} is not set")
    return value


def _origin_of(origin: dict[KeyPath, str], path: KeyPath) -> str:
    for end in range(len(path), 0, -1):
        if path[:end] in origin:
            return origin[path[:end]]
    return "<defaults>"


def _describe(exc: ValidationError, data: dict, origin: dict[KeyPath, str], base: Path) -> str:
    lines = []
    for err in exc.errors():
        path, kind = _key_path(err, data)
        if err["type"] in ("union_tag_not_found", "union_tag_invalid"):  # the tag's key, e.g. `type`
            path += (err["ctx"]["discriminator"].strip("'"),)
        where = _origin_of(origin, path) if path else str(base)
        if where == "<defaults>":
            where = str(base)
        key = ".".join(path) or "(top level)"
        name = _item_name(data, path[:-1])
        key += f" ('{name}')" if name else ""
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + (f" for '{kind}'" if kind else "")
        elif err["type"] == "missing" and kind:
            msg = f"{msg} for '{kind}'"
        elif err["type"] == "union_tag_not_found":
            msg = "Field required"
        elif err["type"] == "union_tag_invalid":
            msg = f"'{err['ctx']['tag']}' is not one of {err['ctx']['expected_tags']}"
        lines.append(f"{where}: {key}: {msg}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _item_name(data: Any, path: KeyPath) -> str | None:
    """The `name` of the list item at `path` (a rule, a feature, an arm), which a user knows it by."""
    node = data
    for part in path:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return str(node["name"]) if path and path[-1].isdigit() and isinstance(node, dict) and "name" in node else None


def _key_path(err: Any, data: dict) -> tuple[KeyPath, str | None]:
    """The error's location as keys of the input, and the kind (union tag) of the model it is in.

    Pydantic's location also holds labels that address no input value: the tag of a discriminated
    union's member (`clean.joins.0.lookup.left_time`) or a plain union's member type. They are left
    out, so the path names only keys the user wrote (and `[key]`, a mapping key's own error); the
    last tag passed is the kind.
    """
    path: list[str] = []
    kind = None
    node: Any = data
    for i, part in enumerate(err["loc"]):
        if (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int)):
            node = node[part]
        elif part != "[key]" and not (err["type"] == "missing" and i == len(err["loc"]) - 1):
            kind = str(part) if isinstance(node, dict) else kind
            continue
        path.append(str(part))
    return tuple(path), kind
