from __future__ import annotations

import pytest

from vipflow.sim import KitchenSim  # imported first: it picks the headless GL backend


@pytest.fixture(scope="module")
def slide_sim():
    sim = KitchenSim("slide_cabinet", seed=0, image_size=64)
    yield sim
    sim.close()
