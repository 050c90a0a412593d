"""Chapter 09's pose regression tasks: the canonical offset is fixed per character unless the
tasks are mutually exclusive; rotations are what they claim."""
import pytest
import torch

import mlcore as ml


def test_the_offset_is_fixed_per_character_and_redrawn_when_mutually_exclusive(tiny_images):
    for exclusive in (False, True):
        sampler = ml.data.PoseSampler(tiny_images, 3, 4, seed=0, mutually_exclusive=exclusive)
        offsets = {}
        for _ in range(60):
            task, params = sampler.task(return_params=True)
            offsets.setdefault(params["character"], set()).add(params["offset"])
            assert task.support.x.shape[1:] == tiny_images.images.shape[2:]
            assert task.query.y.min() >= 0 and task.query.y.max() < 10
        most = max(len(values) for values in offsets.values())    # offsets seen per character
        if exclusive:
            assert most > 1, "a mutually exclusive task draws its own offset"
        else:
            assert most == 1, "the offset is the character's, the same in every task"


def test_targets_follow_the_rotation_and_the_offset(tiny_images):
    sampler = ml.data.PoseSampler(tiny_images, 2, 2, seed=3, max_angle=90.0)
    task, params = sampler.task(return_params=True)
    rotation = task.support.y[:, 0] / 5 - params["offset"]         # r in [0, 1)
    assert ((rotation >= 0) & (rotation < 1)).all()


def test_rotate_by_zero_is_the_identity_and_by_ninety_a_quarter_turn():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 8, 8, generator=g)
    torch.testing.assert_close(ml.data.rotate(images, torch.zeros(3)), images)
    turned = ml.data.rotate(images, torch.full((3,), 90.0))
    torch.testing.assert_close(turned, images.rot90(1, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_pose_sampler_downsamples_and_rejects_bad_arguments(tiny_images):
    task = ml.data.PoseSampler(tiny_images, 2, 2, size=7).task()
    assert task.query.x.shape[-2:] == (7, 7)
    with pytest.raises(ValueError, match="max_angle"):
        ml.data.PoseSampler(tiny_images, 2, 2, max_angle=0.0)
    with pytest.raises(ValueError, match="k_shot"):
        ml.data.PoseSampler(tiny_images, 0, 2)


def test_offsets_belong_to_the_characters_not_to_the_task_stream(tiny_images):
    a = ml.data.PoseSampler(tiny_images, 2, 2, seed=0)
    b = ml.data.PoseSampler(tiny_images, 2, 2, seed=5)
    torch.testing.assert_close(a.offsets, b.offsets)
    c = ml.data.PoseSampler(tiny_images, 2, 2, seed=0, offset_seed=1)
    assert not torch.allclose(a.offsets, c.offsets)


def test_the_marker_is_a_bar_at_the_top_that_turns_with_the_glyph():
    blank = torch.zeros(1, 1, 28, 28)
    marked = ml.data.pose.with_marker(blank)
    assert marked[0, 0, :2].sum() == 2 * 4 and marked[0, 0, 2:].sum() == 0
    assert blank.sum() == 0, "the input is not changed"
    upside_down = ml.data.rotate(marked, torch.tensor([180.0]))
    assert upside_down[0, 0, -2:].sum() > 6 and upside_down[0, 0, :2].sum() < 1


def test_body_head_normalises_the_body_output_and_has_the_asked_shapes():
    net = ml.nets.BodyHead(49, hidden=16, body_out=32)
    x = 10 * torch.randn(5, 1, 7, 7)   # large enough that the eps of LayerNorm is negligible
    features = net.body(x)                                              # (5, 32)
    torch.testing.assert_close(features.mean(-1), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(features.var(-1, unbiased=False), torch.ones(5), atol=1e-3, rtol=0)
    assert ml.nets.BodyHead(49, hidden=16)(x).shape == (5, 1)


def test_label_noise_moves_the_support_targets_only(tiny_images):
    exact = ml.data.PoseSampler(tiny_images, 3, 4, seed=2, label_noise=0.0)
    noisy = ml.data.PoseSampler(tiny_images, 3, 4, seed=2, label_noise=0.5)
    clean_task, noisy_task = exact.task(), noisy.task()
    torch.testing.assert_close(noisy_task.query.y, clean_task.query.y)
    torch.testing.assert_close(noisy_task.support.x, clean_task.support.x)
    assert (noisy_task.support.y - clean_task.support.y).abs().min() > 0
    with pytest.raises(ValueError, match="label_noise"):
        ml.data.PoseSampler(tiny_images, 2, 2, label_noise=-1.0)
