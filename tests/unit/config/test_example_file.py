"""The documented example configuration loads and matches the defaults; every field is described."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from alphaforge.config import AppConfig, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "alphaforge.example.yaml"


def test_example_file_loads_and_states_the_defaults() -> None:
    assert load_config(EXAMPLE, environ={}, dotenv_path=None) == AppConfig()


def test_every_section_of_the_config_is_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in AppConfig.model_fields:
        if section != "secrets":
            assert f"\n{section}:" in text, section


def test_every_setting_has_a_description_or_is_a_secret() -> None:
    undocumented = []
    for section, field in AppConfig.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, sub in model.model_fields.items():
            if section != "secrets" and not sub.description:
                undocumented.append(f"{section}.{name}")
    assert undocumented == []
