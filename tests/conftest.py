import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "xent",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "xent"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
