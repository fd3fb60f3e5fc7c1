"""Loading the effective configuration: defaults < YAML < .env < environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from alphaforge.config import (
    CONFIG_ENV_VAR,
    AppConfig,
    BacktestConfig,
    ModelConfig,
    load_config,
    masked_dump,
)
from alphaforge.core import ConfigError
from alphaforge.core.types import Interval

SECRET = "sk-very-secret-0123456789"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _load(
    path: Path | None = None,
    *,
    environ: dict[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> AppConfig:
    return load_config(path, environ={} if environ is None else environ, dotenv_path=dotenv_path)


def test_defaults_only(tmp_path: Path) -> None:
    cfg = _load(dotenv_path=tmp_path / "missing.env")
    assert cfg == AppConfig()
    assert cfg.run.seed == 42
    assert cfg.labels.horizon == 5
    assert cfg.secrets.alpaca_api_key is None


def test_yaml_overrides_defaults(tmp_path: Path) -> None:
    yml = _write(tmp_path / "c.yaml", "run:\n  seed: 7\nlabels:\n  horizon: 3\n")
    cfg = _load(yml)
    assert cfg.run.seed == 7
    assert cfg.labels.horizon == 3
    # Untouched fields of a touched section keep their defaults.
    assert cfg.run.log_level == "INFO"
    assert cfg.labels.entry == "next_open"


def test_dotenv_overrides_yaml(tmp_path: Path) -> None:
    yml = _write(tmp_path / "c.yaml", "run:\n  seed: 7\n  n_jobs: 3\n")
    env_file = _write(tmp_path / ".env", "ALPHAFORGE_RUN__SEED=8\n")
    cfg = _load(yml, dotenv_path=env_file)
    assert cfg.run.seed == 8
    assert cfg.run.n_jobs == 3


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    yml = _write(tmp_path / "c.yaml", "run:\n  seed: 7\n")
    env_file = _write(tmp_path / ".env", "ALPHAFORGE_RUN__SEED=8\nALPHAFORGE_PORTFOLIO__TOP_K=2\n")
    cfg = _load(yml, environ={"ALPHAFORGE_RUN__SEED": "9"}, dotenv_path=env_file)
    assert cfg.run.seed == 9
    assert cfg.portfolio.top_k == 2


def test_environment_ignores_unrelated_variables(tmp_path: Path) -> None:
    cfg = _load(environ={"HOME": "/x", "PATH": "/bin", "ALPHAFORGEX": "1"})
    assert cfg == AppConfig()


def test_env_json_list(tmp_path: Path) -> None:
    cfg = _load(environ={"ALPHAFORGE_FEATURES__NAMES": '["rsi_14", "ret_log_5"]'})
    assert cfg.features.names == ["rsi_14", "ret_log_5"]


def test_env_variable_name_is_case_insensitive_after_prefix() -> None:
    cfg = _load(environ={"ALPHAFORGE_Backtest__Commission_BPS": "2.5"})
    assert cfg.backtest.commission_bps == 2.5


def test_env_var_without_field_is_refused() -> None:
    with pytest.raises(ConfigError, match="ALPHAFORGE_SEED"):
        _load(environ={"ALPHAFORGE_SEED": "1"})


def test_config_env_var_picks_the_file(tmp_path: Path) -> None:
    yml = _write(tmp_path / "picked.yaml", "portfolio:\n  top_k: 6\n")
    cfg = _load(environ={CONFIG_ENV_VAR: str(yml)})
    assert CONFIG_ENV_VAR == "ALPHAFORGE_CONFIG"
    assert cfg.portfolio.top_k == 6


def test_explicit_path_wins_over_config_env_var(tmp_path: Path) -> None:
    picked = _write(tmp_path / "picked.yaml", "portfolio:\n  top_k: 6\n")
    explicit = _write(tmp_path / "explicit.yaml", "portfolio:\n  top_k: 3\n")
    cfg = _load(explicit, environ={CONFIG_ENV_VAR: str(picked)})
    assert cfg.portfolio.top_k == 3


def test_empty_yaml_is_defaults(tmp_path: Path) -> None:
    assert _load(_write(tmp_path / "e.yaml", "")) == AppConfig()


def test_yaml_with_secrets_section_is_refused(tmp_path: Path) -> None:
    yml = _write(tmp_path / "c.yaml", f"secrets:\n  alpaca_api_key: {SECRET}\n")
    with pytest.raises(ConfigError, match="secrets") as info:
        _load(yml)
    assert SECRET not in info.value.one_line()
    assert "ALPHAFORGE_SECRETS__" in info.value.hint


def test_invalid_value_names_the_field_in_one_line(tmp_path: Path) -> None:
    yml = _write(tmp_path / "c.yaml", "labels:\n  horizon: 0\n")
    with pytest.raises(ConfigError) as info:
        _load(yml)
    line = info.value.one_line()
    assert "labels.horizon" in line
    assert "\n" not in line


def test_invalid_env_value_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"run\.seed"):
        _load(environ={"ALPHAFORGE_RUN__SEED": "not-a-number"})


def test_several_invalid_values_are_counted(tmp_path: Path) -> None:
    yml = _write(tmp_path / "c.yaml", "labels:\n  horizon: 0\n  exit: never\n")
    with pytest.raises(ConfigError, match=r"2 problems in all"):
        _load(yml)


@pytest.mark.parametrize(
    ("text", "where", "suggestion"),
    [
        ("run:\n  sede: 7\n", "run.sede", "Did you mean 'seed'?"),
        ("modle:\n  name: lightgbm\n", "modle", "Did you mean 'model'?"),
        ("nonsense_section:\n  a: 1\n", "nonsense_section", "Known keys in the top level"),
        ("data:\n  intreval: 1h\n", "data.intreval", "Did you mean 'interval'?"),
        ("model:\n  n_estimators: 40\n", "model.n_estimators", "model.trees.n_estimators"),
        ("model:\n  lookback: 5\n", "model.lookback", "model.deep.lookback"),
    ],
)
def test_unknown_key_is_refused_with_the_closest_name(
    tmp_path: Path, text: str, where: str, suggestion: str
) -> None:
    with pytest.raises(ConfigError, match="Unknown configuration key") as info:
        _load(_write(tmp_path / "c.yaml", text))
    assert where in info.value.message
    assert suggestion in (info.value.hint or "")


@pytest.mark.parametrize(
    "text",
    [
        "data:\n  interval: 7 parsecs\n",
        "labels:\n  kind: up_or_down\n",
        "train:\n  ensemble: vote\n",
        "model:\n  device: tpu\n",
    ],
)
def test_enumerable_settings_refuse_values_outside_their_set(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="Input should be") as info:
        _load(_write(tmp_path / "c.yaml", text))
    assert "\n" not in info.value.one_line()


def test_interval_setting_is_the_interval_type(tmp_path: Path) -> None:
    cfg = _load(_write(tmp_path / "c.yaml", "data:\n  interval: 1h\n"))
    assert cfg.data.interval is Interval.H1


def test_unknown_env_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"run\.sede"):
        _load(environ={"ALPHAFORGE_RUN__SEDE": "1"})


def test_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        _load(missing)
    assert str(missing) in info.value.message


def test_missing_file_from_env_var_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        _load(environ={CONFIG_ENV_VAR: str(tmp_path / "nope.yaml")})


def test_malformed_yaml_reports_line(tmp_path: Path) -> None:
    yml = _write(tmp_path / "bad.yaml", "run:\n  seed: 7\n  log_level: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        _load(yml)


def test_malformed_yaml_line_number_is_where_the_problem_is(tmp_path: Path) -> None:
    yml = _write(tmp_path / "bad.yaml", "run:\n  seed: 7\n\tbad: tab\n")
    with pytest.raises(ConfigError, match=r"at line 3\b"):
        _load(yml)


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        _load(_write(tmp_path / "list.yaml", "- a\n- b\n"))


def test_secrets_from_env_and_dotenv(tmp_path: Path) -> None:
    env_file = _write(tmp_path / ".env", f"ALPHAFORGE_SECRETS__FRED_API_KEY={SECRET}\n")
    cfg = _load(
        environ={"ALPHAFORGE_SECRETS__ALPACA_API_KEY": SECRET + "-env"}, dotenv_path=env_file
    )
    assert isinstance(cfg.secrets.fred_api_key, SecretStr)
    assert cfg.secrets.fred_api_key.get_secret_value() == SECRET
    assert cfg.secrets.alpaca_api_key is not None
    assert cfg.secrets.alpaca_api_key.get_secret_value() == SECRET + "-env"
    assert SECRET not in repr(cfg)
    assert SECRET not in str(cfg)


def test_masked_dump_masks_secrets_and_never_contains_them(tmp_path: Path) -> None:
    cfg = _load(
        environ={
            "ALPHAFORGE_SECRETS__ALPACA_API_KEY": SECRET,
            "ALPHAFORGE_SECRETS__OPENAI_API_KEY": SECRET + "2",
        },
    )
    dumped = masked_dump(cfg)
    text = str(json.dumps(dumped))
    assert SECRET not in text
    assert dumped["secrets"]["alpaca_api_key"] == "********"
    assert dumped["secrets"]["openai_api_key"] == "********"
    # Unset secrets stay visibly unset.
    assert dumped["secrets"]["fred_api_key"] is None
    assert set(dumped["secrets"]) == {
        "alpaca_api_key",
        "alpaca_secret_key",
        "fred_api_key",
        "finnhub_api_key",
        "openai_api_key",
        "ccxt_api_key",
        "ccxt_secret",
        "smtp_password",
        "webhook_token",
    }
    # Everything else round-trips as plain data.
    assert dumped["run"]["seed"] == 42
    assert dumped["data"]["store_dir"] == ".alphaforge/store"
    assert set(dumped) == set(AppConfig.model_fields)


@pytest.mark.parametrize(
    ("obj", "field", "value"),
    [
        (AppConfig(), "run", None),
        (AppConfig().run, "seed", 1),
        (ModelConfig().trees, "n_estimators", 5),
        (BacktestConfig(), "commission_bps", 3.0),
    ],
)
def test_configs_are_frozen(obj: object, field: str, value: object) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        setattr(obj, field, value)


def test_models_forbid_extra_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ModelConfig(n_trees=5)  # type: ignore[call-arg]
