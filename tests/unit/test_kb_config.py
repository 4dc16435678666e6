"""The knowledge base's configuration: the shipped files load; each mistake names its file and
field, including those only a cross-check of several files finds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from services.kb.config import load_config
from shared.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in ("categories.yaml", "teams.yaml"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    shutil.copytree(ROOT / "config" / "kb", tmp_path / "kb")
    return tmp_path


def edit(path: Path, change: dict[str, object]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_the_shipped_configuration_loads() -> None:
    config = load_config(ROOT / "config")
    assert "account/password" in config.rules.self_help.categories
    assert {a.article_id for a in config.articles} >= {"password-reset", "wifi-drops"}
    assert config.tuning.title_boost == config.rules.search.title_boost
    assert config.canned and config.directory.teams


@pytest.mark.parametrize(
    ("file", "change", "field", "problem"),
    [
        ("kb/kb.yaml", {"suggestions.limit": 0}, "suggestions.limit", "greater than or equal"),
        (
            "kb/kb.yaml",
            {"self_help.categories": ["account/passwords"]},
            "self_help.categories.0",
            "'account/passwords' is no category",
        ),
        ("kb/kb.yaml", {"editors": ["nobody"]}, "editors.0", "'nobody' is not in teams.yaml"),
        (
            "kb/articles.yaml",
            {"articles.1.article_id": "wifi-drops"},
            "articles.1.article_id",
            "'wifi-drops' is listed twice",
        ),
        (
            "kb/articles.yaml",
            {"articles.0.category": "plumbing"},
            "articles.0.category",
            "'plumbing' is not a category",
        ),
        (
            "kb/canned.yaml",
            {"canned.0.category": "plumbing"},
            "canned.0.category",
            "'plumbing' is not a category",
        ),
    ],
)
def test_a_mistake_names_its_file_and_field(
    config_dir: Path, file: str, change: dict[str, object], field: str, problem: str
) -> None:
    edit(config_dir / file, change)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert (caught.value.file, caught.value.field) == (str(config_dir / file), field)
    assert problem in caught.value.problem


def test_a_missing_file_is_named(config_dir: Path) -> None:
    (config_dir / "kb" / "canned.yaml").unlink()
    with pytest.raises(ConfigError, match=r"canned\.yaml: file not found"):
        load_config(config_dir)
