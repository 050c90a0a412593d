"""Shared fixtures: a tiny image dataset and the path of the real Omniglot sample."""
from pathlib import Path

import pytest
import torch

import mlcore as ml

OMNIGLOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"


@pytest.fixture
def tiny_images():
    """12 classes x 6 images of 28x28 noise, in 4 alphabets."""
    images = torch.rand(12, 6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return ml.data.ImageDataset(images, tuple(f"c{i}" for i in range(12)),
                                tuple(f"a{i % 4}" for i in range(12)))


@pytest.fixture
def omniglot_root():
    if not list(OMNIGLOT.glob("*.zip")):
        pytest.skip(f"real Omniglot sample not found in {OMNIGLOT}")
    return OMNIGLOT
