"""Shared test helpers: where the seed documents are."""
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(os.path.dirname(REPO), "shared", "seeds")


@pytest.fixture
def seeds_dir():
    if not os.path.isdir(SEEDS):
        pytest.skip("the seed documents are not at ../shared/seeds (relative "
                    "to the repository); seed sample tests skipped")
    return SEEDS
