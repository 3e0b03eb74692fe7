"""Config dataclass -> argparse flags, with the precedence defaults -> TOML file -> CLI flags.

A project describes its knobs once, as a dataclass whose fields carry their help text:

    @dataclass
    class TrainConfig:
        lr: float = param(3e-4, help="peak learning rate")
        method: str = param("lora", help="what to train", choices=("lora", "qlora", "full"))

    add_config_args(parser, TrainConfig)          # --lr, --method, plus --config FILE
    config = build_config(TrainConfig, args)      # defaults, then the file, then the flags given

Supported field types: int, float, str, bool (--x / --no-x), Path, `X | None`, `list[X]` (nargs +),
`Literal[...]` (choices). Nested dataclasses are left out on purpose: flat configs read better.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import UserError

C = TypeVar("C")
_CONFIG_DEST = "_config_file"


def param(default: Any = dataclasses.MISSING, *, help: str, choices: tuple | None = None,
          **kwargs: Any) -> Any:
    """A dataclass field with its help text (and optional choices) for the generated CLI flag."""
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=metadata,
                                 **kwargs)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def _unwrap(tp: Any) -> tuple[Any, bool, bool, tuple | None]:
    """(scalar type, optional?, list?, literal choices) for a field annotation."""
    optional = False
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) != len(typing.get_args(tp))
        tp = args[0]
        origin = typing.get_origin(tp)
    if origin in (list, tuple):
        inner, _, _, choices = _unwrap(typing.get_args(tp)[0])
        return inner, optional, True, choices
    if origin is typing.Literal:
        values = typing.get_args(tp)
        return type(values[0]), optional, False, tuple(values)
    return tp, optional, False, None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_args(parser: argparse.ArgumentParser, cls: type, *,
                    config_file: bool = True) -> None:
    """Add one flag per field of dataclass `cls` (defaults in --help, values unset = default)."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} (defaults -> --config file -> flags)")
    if config_file:
        group.add_argument("--config", dest=_CONFIG_DEST, metavar="FILE", type=Path,
                           help="TOML file with any of these settings (flags given here win)")
    for field in dataclasses.fields(cls):
        if not field.init or field.name.startswith("_"):
            continue
        scalar, _optional, is_list, choices = _unwrap(hints[field.name])
        choices = field.metadata.get("choices", choices)
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        help_text = field.metadata.get("help", "")
        shown = f"{help_text} (default: {default!r})" if help_text else f"default: {default!r}"
        kwargs: dict[str, Any] = {"dest": field.name, "default": argparse.SUPPRESS,
                                  "help": shown.replace("%", "%%")}
        if scalar is bool and not is_list:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = scalar
            kwargs["metavar"] = field.name.upper() if choices is None else None
            if choices is not None:
                kwargs["choices"] = choices
            if is_list:
                kwargs["nargs"] = "+"
        group.add_argument(_flag(field.name), **kwargs)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML preset; a [section] table is flattened so presets can group their settings."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise UserError(f"config file {path} not found; pass an existing TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML ({exc}); fix the file") from exc
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return {key.replace("-", "_"): value for key, value in flat.items()}


def build_config(cls: type[C], args: argparse.Namespace | None = None, **overrides: Any) -> C:
    """Dataclass `cls` from its defaults, then `--config FILE`, then flags set on the command line,
    then keyword `overrides`. Unknown keys in the file are an error that names them."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values: dict[str, Any] = {}
    namespace = vars(args) if args is not None else {}
    config_file = namespace.get(_CONFIG_DEST)
    if config_file is not None:
        from_file = load_config_file(config_file)
        unknown = sorted(set(from_file) - names)
        if unknown:
            raise UserError(f"config file {config_file} has unknown settings {unknown}; "
                            f"known ones are {sorted(names)}")
        values.update(from_file)
    values.update({k: v for k, v in namespace.items() if k in names})
    values.update(overrides)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid {cls.__name__}: {exc}") from exc
