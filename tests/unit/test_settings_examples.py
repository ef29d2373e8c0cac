"""The committed settings examples are complete and parse; docs/openapi.json is the document the app serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.api.openapi import openapi_document
from shared.composition.settings import APP_SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "local.settings.json.example", ROOT / "local" / "local.settings.func.json.example"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_settings_example_parses_and_names_only_known_settings(path: Path):
    values = json.loads(path.read_text())["Values"]
    settings = Settings.from_env(values)
    assert settings.nh_hub_name
    platform = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"}
    assert set(values) - platform <= {spec.name for spec in APP_SETTINGS}


def test_docs_openapi_json_is_what_the_app_serves():
    """Regenerate with: .venv/bin/python -m shared.api.openapi > docs/openapi.json"""
    assert json.loads((ROOT / "docs" / "openapi.json").read_text()) == openapi_document()
