import pytest

import qpu_jax


@pytest.fixture(autouse=True, scope="session")
def _compilation_cache(tmp_path_factory):
    qpu_jax.enable_compilation_cache(tmp_path_factory.mktemp("xla-cache"))
