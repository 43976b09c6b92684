"""Shared fixtures for the lake read-back tests: one lakegen build per session."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lakegen  # noqa: E402


@pytest.fixture(scope="session")
def gen(tmp_path_factory):
    if not lakegen.cc_available():
        pytest.skip("no C compiler and no SNAPDIFF_LAKE_GEN")
    return lakegen.build(tmp_path_factory.mktemp("lakegen"))
