"""Load the effective configuration: defaults < YAML file < `.env` < environment variables.

Environment variables are named ``ALPHAFORGE_<SECTION>__<FIELD>`` (for example
``ALPHAFORGE_RUN__SEED=7`` or ``ALPHAFORGE_SECRETS__ALPACA_API_KEY=...``). Secrets may come only
from the environment or `.env`; a YAML file that contains a ``secrets`` section is refused.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import BaseModel, SecretStr, ValidationError

from alphaforge.config.models import AppConfig
from alphaforge.core.bootstrap import MALLOC_TUNING_ENV_VAR
from alphaforge.core.errors import ConfigError

ENV_PREFIX = "ALPHAFORGE_"
CONFIG_ENV_VAR = "ALPHAFORGE_CONFIG"
#: ALPHAFORGE_ variables that steer the program rather than name a setting.
CONTROL_ENV_VARS = frozenset({CONFIG_ENV_VAR, "ALPHAFORGE_DEBUG", MALLOC_TUNING_ENV_VAR})
MASK = "********"


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"Configuration file {path} does not exist.",
            hint="Pass an existing YAML file with --config (see alphaforge.example.yaml).",
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"Configuration file {path} is not valid YAML{where}.", hint="Fix its syntax."
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"Configuration file {path} must hold a mapping of sections.")
    if "secrets" in loaded:
        raise ConfigError(
            f"Configuration file {path} contains a 'secrets' section.",
            hint="Put API keys in the environment or .env (ALPHAFORGE_SECRETS__<NAME>).",
        )
    return loaded


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``ALPHAFORGE_SECTION__FIELD=value`` pairs into a nested mapping."""
    nested: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key in CONTROL_ENV_VARS:
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        if len(path) < 2 or not all(path):
            raise ConfigError(
                f"Environment variable {key} does not name a setting.",
                hint="Use ALPHAFORGE_<SECTION>__<FIELD>, for example ALPHAFORGE_RUN__SEED=7.",
            )
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _parse_env_value(value)
    return nested


def _parse_env_value(value: str) -> Any:
    # Lists arrive as JSON (ALPHAFORGE_FEATURES__NAMES=["rsi_14"]); plain text stays text.
    stripped = value.strip()
    if stripped.startswith(("[", "{")):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> AppConfig:
    """Return the effective configuration.

    Parameters
    ----------
    path
        YAML file; ``None`` falls back to ``$ALPHAFORGE_CONFIG``, then to defaults only.
    environ
        Environment to read (``os.environ`` when ``None``); tests pass their own.
    dotenv_path
        `.env` file with secrets and overrides; ignored when missing or ``None``.
    """
    env = dict(os.environ if environ is None else environ)
    if path is None and env.get(CONFIG_ENV_VAR):
        path = Path(env[CONFIG_ENV_VAR])
    raw: dict[str, Any] = _read_yaml(path) if path is not None else {}
    if dotenv_path is not None and dotenv_path.is_file():
        dotenv = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
        raw = _deep_merge(raw, _env_overrides(dotenv))
    raw = _deep_merge(raw, _env_overrides(env))
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" ({exc.error_count()} problems in all)" if exc.error_count() > 1 else ""
        if first["type"] == "extra_forbidden":
            raise ConfigError(
                f"Unknown configuration key {where}{more}.",
                hint=_closest_key_hint(first["loc"]),
            ) from None
        raise ConfigError(
            f"Invalid configuration value for {where}: {first['msg']}{more}.",
            hint="Fix it in the YAML file or the ALPHAFORGE_ environment variable.",
        ) from None


def _closest_key_hint(loc: tuple[int | str, ...]) -> str:
    """Suggest the known key closest to the unknown last element of ``loc``."""
    model: type[BaseModel] = AppConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    known = list(model.model_fields)
    section = ".".join(str(p) for p in loc[:-1]) or "the top level"
    # A setting that moved into a group of its section (model.n_estimators is now
    # model.trees.n_estimators): name where it lives now.
    moved = [
        f"{section}.{name}.{loc[-1]}"
        for name, field in model.model_fields.items()
        if isinstance(field.annotation, type)
        and issubclass(field.annotation, BaseModel)
        and str(loc[-1]) in field.annotation.model_fields
    ]
    if moved:
        return f"It is set in its group now: {' or '.join(moved)}."
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"Did you mean {close[0]!r}? Known keys in {section}: {', '.join(known)}."
    return f"Known keys in {section}: {', '.join(known)}."


def masked_dump(config: AppConfig) -> dict[str, Any]:
    """Return the configuration as plain JSON-able data with every secret masked."""
    data: dict[str, Any] = config.model_dump(mode="json")
    secrets = config.secrets
    data["secrets"] = {
        name: (MASK if isinstance(getattr(secrets, name), SecretStr) else None)
        for name in type(secrets).model_fields
    }
    return data
