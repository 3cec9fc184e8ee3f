import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_report_header(config):
    import danneal

    return f"danneal {danneal.__version__}, openmp={danneal.openmp}, max_threads={danneal._core.max_threads()}"
