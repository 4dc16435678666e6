"""The text model: examples, training, scores, saving and reloading, evaluation, the command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from services.router import classifier
from services.router.classifier import (
    Example,
    ModelFileError,
    TextClassifier,
    evaluate,
    fingerprint,
    load_or_train,
    prepare,
    split,
)
from services.router.config import load_examples
from services.router.train import main
from shared.config import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"

TEXTS = {
    ("en", "network/wifi"): [
        "wifi keeps dropping in the evening",
        "wireless signal is weak upstairs",
        "the wifi disconnects every few minutes",
        "cannot see my wifi network anymore",
        "wifi very slow in the kitchen",
        "my laptop will not join the wireless network",
    ],
    ("en", "account/password"): [
        "I forgot my password",
        "password reset link does not arrive",
        "how do I change my password",
        "the password I set is not accepted",
        "need a new password please",
        "reset my password, I lost it",
    ],
    ("en", "billing/refund"): [
        "I want a refund for last month",
        "you charged me twice, please refund",
        "refund the double payment",
        "money back for the cancelled order",
        "still waiting for my refund",
        "please return the money you took twice",
    ],
    ("ru", "network/wifi"): [
        "вайфай постоянно отключается",
        "слабый сигнал wifi в спальне",
        "не вижу свою сеть wifi",
        "вайфай очень медленный",
        "ноутбук не подключается к вайфаю",
        "wifi пропадает каждый вечер",
    ],
    ("ru", "account/password"): [
        "забыл пароль",
        "не приходит письмо для сброса пароля",
        "как сменить пароль",
        "пароль не подходит",
        "нужен новый пароль",
        "сбросьте мой пароль пожалуйста",
    ],
    ("ru", "billing/refund"): [
        "верните деньги за прошлый месяц",
        "списали дважды, нужен возврат",
        "оформите возврат двойного платежа",
        "хочу вернуть деньги за отмененный заказ",
        "до сих пор жду возврат",
        "верните деньги, списали два раза",
    ],
}
EXAMPLES = [
    Example(label, text, language) for (language, label), texts in TEXTS.items() for text in texts
]
LABELS = ("network/wifi", "account/password", "billing/refund")


def write_examples(directory: Path, examples: list[Example]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for language in sorted({e.language for e in examples}):
        rows = [{"label": e.label, "text": e.text} for e in examples if e.language == language]
        content = {"language": language, "examples": rows}
        (directory / f"{language}.yaml").write_text(
            yaml.safe_dump(content, allow_unicode=True), encoding="utf-8"
        )
    return directory


@pytest.fixture(scope="module")
def trained() -> TextClassifier:
    return TextClassifier.train(EXAMPLES)


def test_the_model_scores_every_label_and_the_scores_sum_to_one(trained: TextClassifier) -> None:
    scores = trained.scores("the WiFi drops every evening")
    assert set(trained.labels) == set(scores) == set(LABELS)
    assert sum(scores.values()) == pytest.approx(1.0)
    assert max(scores, key=scores.__getitem__) == "network/wifi"
    russian = trained.scores("Забыл ПАРОЛЬ от почты")
    assert max(russian, key=russian.__getitem__) == "account/password"


def test_training_is_deterministic_for_a_seed() -> None:
    first = TextClassifier.train(EXAMPLES, seed=3).scores("refund please")
    assert TextClassifier.train(EXAMPLES, seed=3).scores("refund please") == first


def test_the_model_sees_folded_text() -> None:
    assert prepare("كليد‌ها ΚΩΔΙΚΌΣ, Wi-Fi!") == "کلید ها κωδικοσ wi fi"


def test_training_needs_two_labels() -> None:
    with pytest.raises(ValueError, match="two labels"):
        TextClassifier.train([e for e in EXAMPLES if e.label == "network/wifi"])


def test_examples_load_from_a_directory_dropping_repeats(tmp_path: Path) -> None:
    directory = write_examples(tmp_path / "examples", [*EXAMPLES, EXAMPLES[0]])
    loaded = load_examples(directory, LABELS)
    assert sorted(loaded, key=repr) == sorted(EXAMPLES, key=repr)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"language": "en", "examples": [{"label": "network/lan", "text": "x"}]}, "network/lan"),
        ({"language": "en", "examples": [{"label": "network/wifi", "txt": "x"}]}, "txt"),
        ({"language": "ru", "examples": [{"label": "network/wifi", "text": "x"}]}, "'ru'"),
        ({"language": "en", "examples": []}, "examples"),
    ],
)
def test_bad_example_files_are_config_errors(
    tmp_path: Path, content: dict[str, object], message: str
) -> None:
    (tmp_path / "en.yaml").write_text(yaml.safe_dump(content), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_examples(tmp_path, LABELS)


def test_a_missing_or_empty_examples_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_examples(tmp_path / "absent")
    with pytest.raises(ConfigError, match="no example files"):
        load_examples(tmp_path)


def test_save_and_load_give_the_same_scores(trained: TextClassifier, tmp_path: Path) -> None:
    path = tmp_path / "models" / "router.joblib"
    trained.save(path)
    loaded = TextClassifier.load(path)
    assert loaded.labels == trained.labels
    assert loaded.fingerprint == fingerprint(EXAMPLES)
    assert loaded.scores("wifi is down") == trained.scores("wifi is down")
    assert [p.name for p in path.parent.iterdir()] == ["router.joblib"]


def test_a_corrupt_or_foreign_file_is_a_model_file_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.joblib"
    corrupt.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelFileError, match="cannot be read"):
        TextClassifier.load(corrupt)
    foreign = tmp_path / "foreign.joblib"
    classifier.joblib.dump({"format": 99}, foreign)
    with pytest.raises(ModelFileError, match="format"):
        TextClassifier.load(foreign)


def count_training(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    train = TextClassifier.train.__func__  # type: ignore[attr-defined]

    def counted(cls: type[TextClassifier], examples: list[Example], *, seed: int = 0) -> object:
        calls.append(len(examples))
        return train(cls, examples, seed=seed)

    monkeypatch.setattr(TextClassifier, "train", classmethod(counted))
    return calls


def test_load_or_train_reuses_a_model_trained_on_the_same_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_examples(tmp_path / "examples", EXAMPLES)
    path = tmp_path / "router.joblib"
    calls = count_training(monkeypatch)
    first = load_or_train(path, load_examples(directory, LABELS))
    second = load_or_train(path, load_examples(directory, LABELS))
    assert calls == [len(EXAMPLES)]
    assert second.fingerprint == first.fingerprint
    assert second.scores("refund") == first.scores("refund")


def test_load_or_train_retrains_when_examples_or_sklearn_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_examples(tmp_path / "examples", EXAMPLES)
    path = tmp_path / "router.joblib"
    load_or_train(path, load_examples(directory, LABELS))
    calls = count_training(monkeypatch)
    more = [*EXAMPLES, Example("billing/refund", "give me my money back", "en")]
    write_examples(directory, more)
    assert load_or_train(path, load_examples(directory, LABELS)).fingerprint == fingerprint(more)
    monkeypatch.setattr(classifier.sklearn, "__version__", "0.0-other")
    load_or_train(path, load_examples(directory, LABELS))
    assert calls == [len(more), len(more)]
    assert TextClassifier.load(path).sklearn_version == "0.0-other"


def test_load_or_train_retrains_over_a_corrupt_file(tmp_path: Path) -> None:
    directory = write_examples(tmp_path / "examples", EXAMPLES)
    path = tmp_path / "router.joblib"
    path.write_bytes(b"\x80\x04garbage")
    model = load_or_train(path, load_examples(directory, LABELS))
    assert set(model.labels) == set(LABELS)
    assert TextClassifier.load(path).fingerprint == fingerprint(EXAMPLES)


def test_load_or_train_without_a_path_trains_and_saves_nothing(tmp_path: Path) -> None:
    directory = write_examples(tmp_path / "examples", EXAMPLES)
    assert set(load_or_train(None, load_examples(directory, LABELS)).labels) == set(LABELS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples"]


def test_the_split_holds_out_a_share_of_each_language_and_label() -> None:
    train, test = split(EXAMPLES, test_share=0.25, seed=1)
    assert len(test) == 12 and len(train) == 24  # round(6 * 0.25) = 2 of each of 6 groups
    for language, label in TEXTS:
        assert sum(e.language == language and e.label == label for e in test) == 2
    assert split(EXAMPLES, test_share=0.25, seed=1) == (train, test)
    with pytest.raises(ValueError, match="test_share"):
        split(EXAMPLES, test_share=1.0, seed=0)


def test_evaluate_reports_each_language_and_all() -> None:
    report = evaluate(EXAMPLES, test_share=0.5, seed=0)
    figures = {f.language: f for f in report.languages}
    assert sorted(figures) == ["en", "ru"]
    assert (figures["en"].n_train, figures["en"].n_test) == (9, 9)
    assert (report.overall.language, report.overall.n_train, report.overall.n_test) == (
        "all",
        18,
        18,
    )
    assert all(0.5 <= f.accuracy <= 1.0 for f in [*report.languages, report.overall])
    assert 0.0 < report.macro_f1 <= 1.0
    assert report.overall.combined_accuracy is None and report.uncategorised_share is None


def config_dir(tmp_path: Path, examples: list[Example]) -> Path:
    shutil.copy(CONFIG / "categories.yaml", tmp_path / "categories.yaml")
    write_examples(tmp_path / "routing-examples", examples)
    return tmp_path


def test_the_command_prints_a_table_and_saves_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_dir(tmp_path, EXAMPLES)
    model = tmp_path / "out" / "router.joblib"
    assert main(["--config-dir", str(config), "--model", str(model), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "language   n_train  n_test   model  +rules" in out
    assert [line.split()[:3] for line in out.splitlines() if line.startswith(("en ", "ru "))] == [
        ["en", "12", "6"],
        ["ru", "12", "6"],
    ]
    assert "all             24      12" in out
    assert "labels with no examples" in out and "network/vpn" in out
    assert f"model saved to {model}" in out
    assert set(TextClassifier.load(model).labels) == set(LABELS)


def test_the_command_exits_2_on_missing_or_invalid_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config-dir", str(tmp_path / "absent")]) == 2
    assert "categories.yaml: file not found" in capsys.readouterr().err
    config = config_dir(tmp_path, [*EXAMPLES, Example("network/lan", "cable", "en")])
    assert main(["--config-dir", str(config)]) == 2
    assert "labels not in categories.yaml: network/lan" in capsys.readouterr().err
    shutil.rmtree(config / "routing-examples")
    assert main(["--config-dir", str(config)]) == 2
    assert "examples directory not found" in capsys.readouterr().err
