import numpy as np
import pytest
import torch

import mlcore as ml
from mlcore.data import glyphs


@pytest.fixture(scope="module")
def all_glyphs():
    return ml.data.load_glyphs()


def test_glyphs_are_an_omniglot_sized_dataset(all_glyphs):
    n_classes, n_per_class = all_glyphs.images.shape[:2]
    assert n_classes >= 1000 and n_per_class >= 20
    assert all_glyphs.images.shape[2:] == (1, 28, 28)
    assert all_glyphs.images.dtype == torch.float32
    assert all_glyphs.images.min() >= 0 and all_glyphs.images.max() <= 1
    assert len(set(all_glyphs.classes)) == n_classes
    assert len(set(all_glyphs.alphabets)) >= 20


def test_instances_of_a_class_really_vary(all_glyphs):
    images = all_glyphs.images[:50].flatten(2)                       # (50, 20, 784)
    within = (images[:, :1] - images[:, 1:]).abs().mean()
    assert within > 0.05                        # drawers differ by far more than noise
    assert all(len({x.numpy().tobytes() for x in c}) == 20 for c in all_glyphs.images[:50])


def test_splits_are_disjoint_by_class_and_alphabet(all_glyphs):
    splits = {s: ml.data.load_glyphs(s) for s in ml.data.SPLITS}
    assert sum(len(d) for d in splits.values()) == len(all_glyphs)
    for a in ml.data.SPLITS:
        for b in ml.data.SPLITS:
            if a < b:
                assert not set(splits[a].classes) & set(splits[b].classes)
                assert not set(splits[a].alphabets) & set(splits[b].alphabets)
    assert len(splits["meta_train"]) > len(splits["meta_test"]) > 100


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="split='train'"):
        ml.data.load_glyphs("train")


def test_build_is_deterministic_byte_for_byte(monkeypatch):
    monkeypatch.setattr(glyphs, "N_ALPHABETS", 2)
    monkeypatch.setattr(glyphs, "CHARACTERS_PER_ALPHABET", 3)
    first, second = glyphs.build_glyphs(), glyphs.build_glyphs()
    assert first["images"].dtype == np.uint8
    assert first["images"].tobytes() == second["images"].tobytes()
    assert first["templates"].tobytes() == second["templates"].tobytes()
    assert list(first["classes"]) == list(second["classes"])


def test_cache_follows_mlcore_data(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCORE_DATA", str(tmp_path))
    assert glyphs.cache_dir() == tmp_path


def test_pixel_nearest_neighbour_is_well_above_chance_and_far_from_perfect():
    sampler = ml.data.EpisodeSampler(ml.data.load_glyphs("meta_test"), 5, 1, 5, seed=0)
    accuracy, ci95 = ml.evaluate(ml.methods.PixelNN(5), sampler, n_tasks=200)
    assert 35 < accuracy < 70, accuracy   # chance is 20; Omniglot's pixel NN is 41.7 (Vinyals '16)
