from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.app import create_app
from pipeline.settings import Settings, SettingsError, documented_settings
from pipeline.topics import declared_topics
from tests.helpers import ROOT


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.broker_url == "kafka://127.0.0.1:9092"
    assert settings.window_sizes == (3600, 86400)
    assert settings.processing_guarantee == "at_least_once"


def test_reads_every_variable_at_call_time() -> None:
    env = {"PIPELINE_BROKER_URL": "kafka://a:1,kafka://b:2", "PIPELINE_PARTITIONS": "8",
           "PIPELINE_WINDOWS": "86400,3600,3600", "PIPELINE_DATA_DIR": "/tmp/x"}
    settings = Settings.from_env(env)
    assert settings.bootstrap_servers == ["a:1", "b:2"]
    assert settings.partitions == 8
    assert settings.window_sizes == (3600, 86400)
    assert settings.data_dir == Path("/tmp/x")


@pytest.mark.parametrize("name,value", [
    ("PIPELINE_PARTITIONS", "zero"), ("PIPELINE_PARTITIONS", "0"), ("PIPELINE_WINDOWS", ""),
    ("PIPELINE_WINDOWS", "-5"), ("PIPELINE_PROCESSING_GUARANTEE", "maybe"), ("PIPELINE_LOG_LEVEL", "LOUD"),
    ("PIPELINE_STALL_EXIT_SECONDS", "-1"),
])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    if value == "":
        assert Settings.from_env({name: value}).window_sizes == (3600, 86400)  # empty means default
        return
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.partitions = 2  # type: ignore[misc]


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, _, _ in documented_settings():
        assert f"`{name}`" in readme, f"{name} missing from the README configuration table"


def test_no_getenv_outside_settings() -> None:
    for path in (ROOT / "pipeline").rglob("*.py"):
        if path.name != "settings.py":
            text = path.read_text(encoding="utf-8")
            assert "os.getenv" not in text and "os.environ[" not in text, path


def test_sasl_needs_user_and_password_and_names_them() -> None:
    with pytest.raises(SettingsError, match="PIPELINE_KAFKA_SASL_USERNAME and PIPELINE_KAFKA_SASL_PASSWORD"):
        Settings.from_env({"PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "PIPELINE_KAFKA_SASL_USERNAME": "u"})
    with pytest.raises(SettingsError, match="PIPELINE_KAFKA_SASL_MECHANISM"):
        Settings.from_env({"PIPELINE_KAFKA_SASL_MECHANISM": "GSSAPI"})


def test_ssl_files_must_exist_and_cert_goes_with_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PIPELINE_KAFKA_SSL_CAFILE"):
        Settings.from_env({"PIPELINE_KAFKA_SSL_CAFILE": str(tmp_path / "missing.pem")})
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"PIPELINE_KAFKA_SSL_CERTFILE": str(cert)})


def test_the_password_never_prints() -> None:
    settings = Settings.from_env({"PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                                  "PIPELINE_KAFKA_SASL_USERNAME": "svc", "PIPELINE_KAFKA_SASL_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "hunter2" not in f"{settings.kafka_sasl_password}"
    assert settings.kafka_sasl_password.reveal() == "hunter2"
    assert "hunter2" not in "".join(default for _, default, _ in documented_settings())


def test_to_env_round_trips_every_setting(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env({
        "PIPELINE_WINDOWS": "60,3600", "PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_IDLE_CLOSE_SECONDS": "2.5",
        "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "PIPELINE_KAFKA_SASL_USERNAME": "svc",
        "PIPELINE_KAFKA_SASL_PASSWORD": "hunter2", "PIPELINE_KAFKA_SSL_CAFILE": str(ca),
        "PIPELINE_DEDUP_RETENTION_SECONDS": "99", "PIPELINE_PROCESSING_GUARANTEE": "exactly_once"})
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env(Settings.from_env({}).to_env()) == Settings.from_env({})


def test_faust_reads_no_environment_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # Faust reads BROKER_URL, TABLE_STANDBY_REPLICAS and some 80 more over the app's own arguments.
    for name, value in (("BROKER_URL", "kafka://elsewhere:1"), ("TABLE_STANDBY_REPLICAS", "2"),
                        ("BROKER_COMMIT_EVERY", "1")):
        monkeypatch.setenv(name, value)
    app = create_app(Settings.from_env({"PIPELINE_BROKER_URL": "kafka://here:9092"}))
    assert [str(url) for url in app.conf.broker] == ["kafka://here:9092"]
    assert app.conf.table_standby_replicas == 0
    assert app.conf.broker_commit_every == 10_000  # Faust's default


def test_topic_partition_counts_follow_the_settings_that_name_them() -> None:
    settings = Settings.from_env({"PIPELINE_PARTITIONS": "6", "PIPELINE_WINDOW_SHARDS": "3"})
    counts = {spec.name: (spec.partition_count(settings), spec.partition_setting) for spec in declared_topics(settings)}
    assert counts["articles.raw.v1"] == (6, "PIPELINE_PARTITIONS")
    assert counts["pipeline.window-input.v1"] == (3, "PIPELINE_WINDOW_SHARDS")
    assert counts["reciprocity-pipeline-seen-articles-changelog"] == (6, "PIPELINE_PARTITIONS")
    assert counts["reciprocity-pipeline-windows-changelog"] == (3, "PIPELINE_WINDOW_SHARDS")
    assert counts["signals.reciprocity.v1"] == (1, None)
