from pathlib import Path

import pytest
import yaml

from llm_pretrain.cli_options import _leaf_fields
from llm_pretrain.config import ConfigError, PipelineConfig, load_config, parse_assignment

REPO = Path(__file__).resolve().parents[1]


def test_defaults_without_a_file():
    config = load_config()
    assert config.extract.html.mode == "balanced"
    assert config.executor.workers is None


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("extract:\n  min_chars: 10\n  html:\n    mode: precision\n")
    config = load_config(path, {"extract.min_chars": 99, "executor.workers": 3})
    assert config.extract.min_chars == 99
    assert config.extract.html.mode == "precision"
    assert config.executor.workers == 3


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("extract:\n  html:\n    moed: precision\n")
    with pytest.raises(ConfigError, match=r"extract\.html\.moed: unknown key"):
        load_config(path)


@pytest.mark.parametrize(
    "override, key",
    [
        ({"extract.min_chars": "many"}, "extract.min_chars"),
        ({"extract.html.mode": "fastest"}, "extract.html.mode"),
        ({"executor.workers": 0}, "executor.workers"),
        ({"extract.html.fast": "yes"}, "extract.html.fast"),
    ],
)
def test_wrong_types_are_named(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, override)


def test_override_through_a_value_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("extract:\n  min_chars: 5\n")
    with pytest.raises(ConfigError, match=r"extract\.min_chars\.x: 'min_chars' is a value"):
        load_config(path, {"extract.min_chars.x": 1})


def test_not_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_parse_assignment_reads_yaml_scalars():
    assert parse_assignment("a.b=3") == ("a.b", 3)
    assert parse_assignment("a.b=true") == ("a.b", True)
    assert parse_assignment("a.b=precision") == ("a.b", "precision")
    with pytest.raises(ConfigError):
        parse_assignment("novalue")


def test_shipped_config_documents_every_field():
    """configs/pipeline.yaml loads cleanly, names every field, and matches the defaults."""
    path = REPO / "configs" / "pipeline.yaml"
    assert load_config(path) == PipelineConfig()
    data = yaml.safe_load(path.read_text())
    for section in PipelineConfig.model_fields:
        model = PipelineConfig.model_fields[section].annotation
        for field_path, _ in _leaf_fields(model, ()):
            node = data[section]
            for part in field_path:
                assert part in node, f"{section}.{'.'.join(field_path)} missing from pipeline.yaml"
                node = node[part]


def test_demo_config_loads_and_changes_only_what_it_says():
    """configs/demo.yaml (make demo) is valid and adds the blocklist step to the defaults."""
    config = load_config(REPO / "configs" / "demo.yaml")
    assert "word_blocklist" in config.filter.steps
    assert config.filter.word_blocklist.min_matches == 3
    assert config.tokenize.seq_len == 256 and config.refresh.inputs == ["demo/crawl"]
    assert config.extract == PipelineConfig().extract
