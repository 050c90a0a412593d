import math

import pandas as pd
import pytest
import torch

import mlcore as ml


def tiny_method():
    torch.manual_seed(0)
    return ml.methods.PretrainedClassifier(ml.nets.Conv4(n_out=12, hidden=8))


def run(tiny_images, steps, **kwargs):
    method = tiny_method()
    sampler = ml.data.PooledSampler(tiny_images, batch_size=8, seed=3)
    history = ml.meta_train(method, sampler, steps=steps, meta_batch_size=2, lr=1e-2,
                            progress=False, **kwargs)
    return method, history


def test_history_has_a_row_per_step_with_loss_and_metrics(tiny_images):
    _, history = run(tiny_images, 5)
    assert isinstance(history, pd.DataFrame)
    assert list(history["step"]) == [1, 2, 3, 4, 5]
    assert {"loss", "accuracy"} <= set(history.columns)
    assert history.attrs["seconds_per_step"] > 0


def test_same_seed_gives_identical_numbers(tiny_images):
    (a, history_a), (b, history_b) = run(tiny_images, 4), run(tiny_images, 4)
    pd.testing.assert_frame_equal(history_a, history_b)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_validation_column_every_val_every_steps(tiny_images):
    val = ml.data.EpisodeSampler(tiny_images, 3, 1, 1, seed=0)
    _, history = run(tiny_images, 4, val_sampler=val, val_every=2, val_tasks=3)
    assert history["val"].isna().tolist() == [True, False, True, False]


class Interrupt(Exception):
    pass


def test_resumed_run_equals_uninterrupted_run(tiny_images, tmp_path):
    full_method, full_history = run(tiny_images, 7)
    path = tmp_path / "run.pt"

    # Interrupt the run during step 6: the last checkpoint holds steps 1-4.
    method = tiny_method()
    sampler = ml.data.PooledSampler(tiny_images, batch_size=8, seed=3)
    original, calls = method.meta_loss, []

    def failing_meta_loss(batch):
        calls.append(1)
        if len(calls) == 6:
            raise Interrupt
        return original(batch)
    method.meta_loss = failing_meta_loss
    with pytest.raises(Interrupt):
        ml.meta_train(method, sampler, steps=7, meta_batch_size=2, lr=1e-2, progress=False,
                      checkpoint=path, checkpoint_every=2)
    assert path.exists() and not list(tmp_path.glob("*.partial*"))

    # A fresh process: new objects, same arguments, the same checkpoint path.
    resumed_method = tiny_method()
    torch.manual_seed(123)  # the checkpoint restores the global RNG too
    history = ml.meta_train(resumed_method, ml.data.PooledSampler(tiny_images, 8, seed=3),
                            steps=7, meta_batch_size=2, lr=1e-2, progress=False,
                            checkpoint=path, checkpoint_every=2)
    pd.testing.assert_frame_equal(history, full_history)
    for p, q in zip(resumed_method.parameters(), full_method.parameters()):
        assert torch.equal(p, q)


def test_evaluate_returns_mean_and_95_percent_interval(tiny_images):
    sampler = ml.data.EpisodeSampler(tiny_images, 3, 1, 2, seed=0)
    mean, ci95 = ml.evaluate(ml.methods.PixelNN(), sampler, n_tasks=50)
    replay = ml.data.EpisodeSampler(tiny_images, 3, 1, 2, seed=0)
    tasks = [replay.task() for _ in range(50)]
    scores = torch.tensor([ml.train.score(ml.methods.PixelNN().predict(t), t.query.y)
                           for t in tasks])
    assert mean == pytest.approx(scores.mean().item())
    assert ci95 == pytest.approx(1.96 * scores.std().item() / math.sqrt(50))


def test_score_is_accuracy_in_percent_or_mse():
    logits, labels = torch.tensor([[2.0, 1.0], [0.0, 1.0]]), torch.tensor([0, 0])
    assert ml.train.score(logits, labels) == 50.0
    assert ml.train.score(torch.zeros(3, 1), torch.full((3, 1), 2.0)) == 4.0


@pytest.mark.parametrize("kwargs, argument", [
    (dict(steps=-1, meta_batch_size=1, lr=1e-3), "steps=-1"),
    (dict(steps=1, meta_batch_size=0, lr=1e-3), "meta_batch_size=0"),
    (dict(steps=1, meta_batch_size=1, lr=0), "lr=0"),
])
def test_bad_training_arguments_are_named(tiny_images, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        ml.meta_train(tiny_method(), ml.data.PooledSampler(tiny_images, 4), **kwargs)
