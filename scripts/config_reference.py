"""Write docs/config-reference.md from the pydantic schema (the models of src/atelier/config/).

    .venv/bin/python scripts/config_reference.py            # rewrite the file
    .venv/bin/python scripts/config_reference.py --check    # exit 1 if the file is out of date

One section per model of the schema, every key with its type, constraints and default; a
discriminated union (one model per `type`) has a section per model. A unit test
(tests/unit/test_config_reference.py) fails when the committed file differs from what this writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import logging
import sys
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig

log = logging.getLogger("config_reference")
TARGET = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"
ROOTS = {"platform": PlatformConfig, "use case": UseCaseConfig}
HEADER = """# Configuration reference

Generated from the models of `src/atelier/config/` by `scripts/config_reference.py`; do not edit by hand
(a unit test checks that this file is up to date). What the keys mean, with examples:
[use-cases.md](use-cases.md), [adding-a-use-case.md](adding-a-use-case.md), [training.md](training.md),
[validation.md](validation.md), [scoring.md](scoring.md), [registry.md](registry.md),
[cluster.md](cluster.md). Files: `conf/base/platform.yaml` and `conf/base/use_cases/<name>.yaml`,
overlaid by `conf/<env>/` and `--set key.path=value`. Unknown keys are errors.
"""


def models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation refers to (inside Optional, list, dict)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in models_in(arg)]


def type_name(annotation: typing.Any) -> str:
    """A reader's name for a type: `one of a, b`, `list of X`, `mapping str → X`, a link to a model's section."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if origin is typing.Literal:
        return ("one of " if len(args) > 1 else "") + ", ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:  # a constrained type inside a container, e.g. a mapping's key
        metadata = [item for m in args[1:] for item in (getattr(m, "metadata", None) or [m])]  # FieldInfo or bare
        patterns = [f" matching `{m.pattern}`" for m in metadata if getattr(m, "pattern", None)]
        tags = [f", by `{m.discriminator}`" for m in metadata if isinstance(getattr(m, "discriminator", None), str)]
        return type_name(args[0]) + "".join(patterns + tags)
    if origin in (typing.Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping {type_name(args[0])} → {type_name(args[1])}"
    if annotation is typing.Any:
        return "any"
    return {str: "string", int: "integer", float: "number", bool: "boolean", dt.date: "date"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def constraints(field: FieldInfo) -> str:
    """`>= 1`, `< 1`, `at least 1 item`, `pattern ...` from the field's metadata."""
    items = "character(s)" if field.annotation is str else "item(s)"
    words = {
        "ge": ">= {}",
        "gt": "> {}",
        "le": "<= {}",
        "lt": "< {}",
        "min_length": f"at least {{}} {items}",
        "pattern": "pattern `{}`",
    }
    found = []
    for item in field.metadata:
        for attr, text in words.items():
            value = getattr(item, attr, None)
            if value is not None:
                found.append(text.format(value))
    return ", ".join(found)


def default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "its section's defaults"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [v.model_dump(mode="json", exclude_none=True) for v in value]
    flow = yaml.safe_dump(value, default_flow_style=True, width=1000, allow_unicode=True).strip()
    return f"`{flow.removesuffix('...').strip()}`"


def sections() -> list[tuple[type[BaseModel], list[str]]]:
    """Every model reachable from the roots, in first-seen order, with the key paths where it appears."""
    seen: dict[type[BaseModel], list[str]] = {}
    queue = [(model, root) for root, model in ROOTS.items()]
    while queue:
        model, path = queue.pop(0)
        if model in seen:
            seen[model].append(path)
            continue
        seen[model] = [path]
        for name, field in model.model_fields.items():
            origin = typing.get_origin(field.annotation)
            suffix = {list: "[]", dict: ".<name>"}.get(origin, "")
            prefix = "" if path in ROOTS else f"{path}."
            queue += [(m, f"{prefix}{name}{suffix}") for m in models_in(field.annotation)]
    return list(seen.items())


def doc(model: type[BaseModel]) -> str:
    """The model's own docstring (not one inherited), one paragraph per blank-line-separated block."""
    text = inspect.cleandoc(model.__dict__.get("__doc__") or "")
    return "\n\n".join(" ".join(block.split()) for block in text.split("\n\n"))


def render() -> str:
    parts = [HEADER]
    for model, paths in sections():
        where = ", ".join(f"`{p}`" if p not in ROOTS else f"the {p} file (top level)" for p in paths)
        parts.append(f"## {model.__name__}\n\nAt {where}." + (f" {doc(model)}" if doc(model) else ""))
        rows = ["| key | type | constraints | default |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            cells = [f"`{name}`", type_name(field.annotation), constraints(field), default(field)]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level="INFO", format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date, write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text() if TARGET.is_file() else ""
        if current != text:
            log.error("%s is out of date: run .venv/bin/python scripts/config_reference.py", TARGET)
            return 1
        return 0
    TARGET.write_text(text)
    log.info("wrote %s", TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
