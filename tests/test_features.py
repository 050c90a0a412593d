"""The cached features of the pre-trained classifier (`ml.methods.pretrained_features`, the
fixed features of chapter 10): shapes and normalisation, a warm cache that returns the same
numbers without training, and keys that change with the data and the settings."""
import pytest
import torch

import mlcore as ml

SETTINGS = dict(hidden=4, steps=2, batch_size=8, progress=False)


@pytest.fixture
def splits(tiny_images, tmp_path, monkeypatch):
    monkeypatch.setenv("MLCORE_DATA", str(tmp_path))
    return {"meta_train": tiny_images.subset(range(8)),
            "meta_test": tiny_images.subset(range(8, 12))}


def cached_files(tmp_path):
    return sorted((tmp_path / "features").glob("*.pt"))


def test_features_are_unit_vectors_per_image_in_the_classes_order(splits):
    features = ml.methods.pretrained_features(splits, blocks=3, **SETTINGS)
    assert features["meta_train"].images.shape == (8, 6, 4 * 9)  # 3 blocks: a 3x3 map
    assert features["meta_test"].classes == splits["meta_test"].classes
    norms = features["meta_test"].images.norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


def test_a_warm_cache_returns_the_same_features_without_training(splits, tmp_path, monkeypatch):
    first = ml.methods.pretrained_features(splits, **SETTINGS)
    monkeypatch.setattr(ml.methods.baselines, "meta_train", lambda *a, **k: pytest.fail("trained"))
    second = ml.methods.pretrained_features(splits, **SETTINGS)
    assert torch.equal(first["meta_test"].images, second["meta_test"].images)
    assert len(cached_files(tmp_path)) == 1


def test_other_images_or_settings_do_not_read_a_stale_cache(splits, tmp_path):
    ml.methods.pretrained_features(splits, **SETTINGS)
    ml.methods.pretrained_features(splits, **(SETTINGS | dict(steps=3)))
    changed = dict(splits, meta_test=splits["meta_train"].subset(range(4)))
    ml.methods.pretrained_features(changed, **SETTINGS)
    assert len(cached_files(tmp_path)) == 3


def test_a_feature_does_not_depend_on_the_other_classes_much(splits):
    """BatchNorm sees chunks mixed over a split: the features of the same images computed as
    part of another split of similar images stay close."""
    features = ml.methods.pretrained_features(splits, **SETTINGS)
    alone = dict(splits, meta_test=splits["meta_train"].subset(range(4)))
    again = ml.methods.pretrained_features(alone, **SETTINGS)
    close = torch.nn.functional.cosine_similarity(features["meta_train"].images[:4],
                                                  again["meta_test"].images, dim=-1)
    assert close.min() > 0.9


def test_bad_arguments_name_the_fix(splits):
    with pytest.raises(ValueError, match="meta_train"):
        ml.methods.pretrained_features({"meta_test": splits["meta_test"]}, **SETTINGS)
    with pytest.raises(ValueError, match="blocks"):
        ml.methods.pretrained_features(splits, blocks=5, **SETTINGS)
