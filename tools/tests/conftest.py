"""Every catalog test writes its measurements to a scratch file, never the committed catalog."""

import pytest
from llm_fullstack import measured


@pytest.fixture(autouse=True)
def scratch_catalog(tmp_path, monkeypatch):
    monkeypatch.setattr(measured, "FILE", tmp_path / "measured.json")
