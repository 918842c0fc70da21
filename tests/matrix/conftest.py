"""One Synapse homeserver for the whole session (installed by the test extra, started on 127.0.0.1).

Skipped, with the reason, only where the `synapse` package is not installed; if it is installed and
does not start, the tests fail with its log.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.matrix.synapse import Synapse


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    if importlib.util.find_spec("synapse") is None:
        pytest.skip("matrix-synapse is not installed (pip install -e '.[test]' installs it)")
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
