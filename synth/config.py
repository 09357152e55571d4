"""Typed, strict configs: unknown keys and wrong values fail at load with the field's name."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path, PurePath
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from synth.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every spec: frozen, unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _known_keys(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed beside the unknown key at ``loc``, found by walking the model's fields."""
    for part in loc[:-1]:
        if model is None:
            return []
        info = model.model_fields.get(str(part))
        annotation = info.annotation if info is not None else None
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return sorted(model.model_fields) if model is not None else []


def format_validation_error(
    err: ValidationError,
    source: str,
    model: type[BaseModel] | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """One line naming every bad field, its value and what was expected. With ``model``, an
    unknown key is shown with the keys allowed in its place; ``labels`` adds to a field's name
    where its value came from (``{"snr_db_range": "--snr-db"}``)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        field = next((k for k in (labels or {}) if loc == k or loc.startswith(k + ".")), None)
        if field is not None:
            loc = f"{loc} ({labels[field]})"
        if e["type"] == "extra_forbidden":
            known = _known_keys(model, tuple(e["loc"]))
            parts.append(
                f"unknown key '{loc}'" + (f" (known: {', '.join(known)})" if known else "")
            )
        else:
            value = e.get("input")
            shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
            if len(shown) > 60:
                shown = shown[:57] + "..."
            parts.append(f"{loc}={shown}: {e['msg']}")
    return f"{source}: " + "; ".join(parts)


def _as_json_value(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"a {type(value).__name__} value ({value!r}) is not a config value")


def _non_json_key(data: Any, path: str = "", seen: frozenset[int] = frozenset()) -> str | None:
    """The dotted key of the first value in ``data`` that has no JSON form (a TOML or YAML date,
    or a YAML alias that contains itself)."""
    if isinstance(data, dict | list | tuple):
        if id(data) in seen:
            return path or "(top level)"
        seen = seen | {id(data)}
        items = data.items() if isinstance(data, dict) else enumerate(data)
    else:
        ok = data is None or isinstance(data, str | int | float | bool | PurePath)
        return None if ok else path or "(top level)"
    for key, value in items:
        found = _non_json_key(value, f"{path}.{key}" if path else str(key), seen)
        if found:
            return found
    return None


def validate(
    model: type[M],
    data: dict[str, Any],
    source: str = "config",
    context: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> M:
    """Validate ``data`` as ``model``, raising a one-line ConfigError that names each bad field.
    ``context`` reaches the model's validators (``{"new_build": True}``: rules for new builds
    only, which a stored spec being re-read need not meet); ``labels`` name the flag a field's
    value came from in the error (see ``format_validation_error``).

    Validation is strict, on the data's JSON form: a number field takes a number (an integer
    one an integer: ``true``, ``"3"`` and ``5.5`` are errors, not 1, 3 and 5), a flag takes
    ``true``/``false`` (not ``"yes"`` or 1), a text field takes text; lists stand for tuples and
    text for paths and choices, as in any JSON, TOML or YAML file.
    """
    try:
        text = json.dumps(data, default=_as_json_value, allow_nan=True)
    except (TypeError, ValueError) as err:
        key = _non_json_key(data)
        raise ConfigError(f"{source}: {key + ': ' if key else ''}{err}") from None
    try:
        return model.model_validate_json(text, strict=True, context=context)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, model, labels)) from None


class _DuplicateKey(ValueError):
    """A key given twice in one table of a JSON or YAML file (the last would silently win)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"key '{key}' is given twice")
        out[key] = value
    return out


def _load_yaml(text: str) -> Any:
    import yaml  # PyYAML comes with Prefect

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            # The mapping's own keys only: a merge key (<<: *anchor) is resolved by the base
            # class, and a local key overriding a merged one is what merging is for.
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    again = key in seen
                except TypeError:  # an unhashable key: the base class names it
                    continue
                if again:
                    line = key_node.start_mark.line + 1
                    raise _DuplicateKey(f"key '{key}' is given twice (again at line {line})")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON, TOML or YAML config file into a dict; errors name the file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: config file not found")
    if not p.is_file():
        raise ConfigError(f"{p}: not a file (expected a .toml, .json or .yaml config file)")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not UTF-8 text (byte {err.start}); is it a config file?") from None
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the config file ({err.strerror})") from None
    try:
        if p.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_keys)
        elif p.suffix == ".toml":
            data = tomllib.loads(text)  # TOML itself forbids a key given twice
        elif p.suffix in (".yaml", ".yml"):
            data = _load_yaml(text)
        else:
            raise ConfigError(f"{p}: unknown config format '{p.suffix}' (use .toml, .json, .yaml)")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{p}: not valid {p.suffix[1:].upper()}: {err}") from None
    except _DuplicateKey as err:
        raise ConfigError(f"{p}: {err}") from None
    except ImportError:
        raise ConfigError(f"{p}: YAML configs need PyYAML; use .toml or .json") from None
    except Exception as err:  # yaml.YAMLError without importing yaml up front
        if type(err).__module__.startswith("yaml"):
            mark = getattr(err, "problem_mark", None)
            problem = getattr(err, "problem", None) or str(err)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{p}: not valid YAML: {problem}{where}".replace("\n", " ")) from None
        raise
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p}: expected a table/object at the top level, got {type(data).__name__}"
        )
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested dicts merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_paths(data: dict[str, Any], keys: tuple[str, ...], base: Path) -> dict[str, Any]:
    """``data`` with the relative paths at the dotted ``keys`` (``"fonts.dir"``) made absolute
    against ``base`` (a config file's folder: its paths mean the same from any working
    directory, and the spec records where the inputs really are). ``~`` is expanded; values
    that are not text are left to validation."""
    out = dict(data)
    for key in keys:
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node[part] = node = dict(child)
        else:
            value = node.get(leaf)
            if isinstance(value, str) and value:
                path = Path(value).expanduser()
                node[leaf] = str(path if path.is_absolute() else (base / path).resolve())
    return out
