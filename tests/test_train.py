import math

import pandas as pd
import pytest
import torch

import mlcore as ml


def tiny_method():
    torch.manual_seed(0)
    return ml.methods.PretrainedClassifier(ml.nets.Conv4(n_out=12, hidden=8), n_way=3)


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
    mean, ci95 = ml.evaluate(ml.methods.PixelNN(3), sampler, n_tasks=50)
    replay = ml.data.EpisodeSampler(tiny_images, 3, 1, 2, seed=0)
    tasks = [replay.task() for _ in range(50)]
    scores = torch.tensor([ml.train.default_score(ml.methods.PixelNN(3).predict(t), t)
                           for t in tasks])
    assert mean == pytest.approx(scores.mean().item())
    assert ci95 == pytest.approx(1.96 * scores.std().item() / math.sqrt(50))


def test_score_is_accuracy_in_percent_or_mse():
    logits, labels = torch.tensor([[2.0, 1.0], [0.0, 1.0]]), torch.tensor([0, 0])
    task = ml.Task(ml.Split(torch.zeros(0, 1), labels[:0]), ml.Split(torch.zeros(2, 1), labels))
    assert ml.train.default_score(logits, task) == 50.0
    regression = ml.Task(ml.Split(torch.zeros(0, 1), torch.zeros(0, 1)),
                         ml.Split(torch.zeros(3, 1), torch.full((3, 1), 2.0)))
    assert ml.train.default_score(torch.zeros(3, 1), regression) == 4.0


@pytest.mark.parametrize("kwargs, argument", [
    (dict(steps=-1, meta_batch_size=1, lr=1e-3), "steps=-1"),
    (dict(steps=1, meta_batch_size=0, lr=1e-3), "meta_batch_size=0"),
    (dict(steps=1, meta_batch_size=1, lr=0), "lr=0"),
])
def test_bad_training_arguments_are_named(tiny_images, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        ml.meta_train(tiny_method(), ml.data.PooledSampler(tiny_images, 4), **kwargs)


class SamplingRegressor(torch.nn.Module):
    """A toy probabilistic method: predictions are the support mean plus unit Gaussian noise."""

    def predict(self, task, n_samples=None):
        mean = task.support.y.mean().expand_as(task.query.y)
        if n_samples is None:
            return mean
        return mean + torch.randn(n_samples, *mean.shape)  # (n_samples, n_query, 1)


def coverage(samples, task):
    """% of query targets inside the samples' 5%-95% range."""
    low, high = samples.quantile(0.05, dim=0), samples.quantile(0.95, dim=0)
    return 100 * ((low <= task.query.y) & (task.query.y <= high)).float().mean()


def test_evaluate_takes_a_scoring_function_and_predict_options():
    sampler = ml.data.SinusoidSampler(5, 10, seed=0)
    mse, _ = ml.evaluate(SamplingRegressor(), sampler, n_tasks=5)
    covered, _ = ml.evaluate(SamplingRegressor(), sampler, n_tasks=5, score=coverage,
                             n_samples=50)
    assert mse > 0 and 0 <= covered <= 100


def test_evaluate_hands_the_score_what_generated_each_task():
    seen = []

    def amplitude_error(outputs, task, params):
        seen.append(params["amplitude"])
        return abs(task.query.y.abs().max().item() - params["amplitude"])

    sampler = ml.data.SinusoidSampler(5, 200, seed=0)
    error, _ = ml.evaluate(SamplingRegressor(), sampler, n_tasks=4, score=amplitude_error,
                           task_params=True)
    replay = [ml.data.SinusoidSampler(5, 200, seed=0).task(return_params=True)[1]["amplitude"]]
    assert seen[0] == replay[0] and len(seen) == 4 and error < 0.5


def test_a_task_with_more_classes_than_the_head_is_named(tiny_images):
    maml = ml.methods.MAML(ml.nets.Conv4(n_out=3, hidden=8), torch.nn.functional.cross_entropy,
                           alpha=0.1)
    five_way = ml.data.EpisodeSampler(tiny_images, 5, 1, 1, seed=0)
    with pytest.raises(ValueError, match=r"n_way=3 allows 0..2"):
        ml.meta_train(maml, five_way, steps=1, meta_batch_size=1, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match=r"labels 0..4"):
        ml.evaluate(maml, five_way, n_tasks=2)


def test_tasks_with_nan_or_infinite_inputs_are_rejected(tiny_images):
    task = ml.data.EpisodeSampler(tiny_images, 3, 1, 1, seed=0).task()
    task.support.x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"task.support.x holds 1 NaN"):
        ml.tasks.check(task)

    class Broken:
        def task(self):
            return task
    with pytest.raises(ValueError, match="NaN"):
        ml.evaluate(ml.methods.PixelNN(3), Broken(), n_tasks=2)


def checkpoint_error(path, tiny_images, method=None):
    method = method or tiny_method()
    sampler = ml.data.PooledSampler(tiny_images, 8, seed=3)
    before = path.read_bytes()
    with pytest.raises(ValueError) as error:
        ml.meta_train(method, sampler, steps=3, meta_batch_size=1, lr=1e-2, progress=False,
                      checkpoint=path)
    assert path.read_bytes() == before  # the file is left as it was
    assert str(path) in str(error.value) and "start fresh" in str(error.value)
    return str(error.value)


def test_damaged_foreign_and_mismatched_checkpoints_get_one_clear_error(tiny_images, tmp_path):
    path = tmp_path / "run.pt"
    ml.meta_train(tiny_method(), ml.data.PooledSampler(tiny_images, 8, seed=3), steps=2,
                  meta_batch_size=1, lr=1e-2, progress=False, checkpoint=path)
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])
    assert "cannot be read" in checkpoint_error(path, tiny_images)
    torch.save({"weights": torch.zeros(3)}, path)
    assert "not a checkpoint written by ml.meta_train" in checkpoint_error(path, tiny_images)
    path.write_bytes(whole)
    other = ml.methods.PretrainedClassifier(ml.nets.Conv4(n_out=7, hidden=8), n_way=3)
    assert "do not fit" in checkpoint_error(path, tiny_images, other)


class Payload:
    def __reduce__(self):
        return (print, ("this ran while the checkpoint was opened",))


def test_opening_a_checkpoint_cannot_run_code(tiny_images, tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": ml.train.CHECKPOINT_FORMAT, "payload": Payload()}, path)
    assert "cannot be read" in checkpoint_error(path, tiny_images)
    assert "this ran" not in capsys.readouterr().out


def test_reliability_and_ece_by_hand():
    probabilities = torch.tensor([[0.95, 0.05], [0.92, 0.08], [0.35, 0.65], [0.38, 0.62]])
    labels = torch.tensor([0, 1, 1, 1])         # bin (0.9, 1]: confidence 0.935, 1 of 2 right
    table = ml.reliability(probabilities, labels, n_bins=10)     # bin (0.6, 0.7]: 0.635, 2 of 2
    assert list(table.index) == [6, 9] and list(table["count"]) == [2, 2]
    assert table.loc[9, "accuracy"] == 0.5 and abs(table.loc[6, "confidence"] - 0.635) < 1e-6
    expected = 100 * (2 / 4 * abs(0.5 - 0.935) + 2 / 4 * abs(1.0 - 0.635))
    assert abs(ml.expected_calibration_error(probabilities, labels, 10) - expected) < 1e-4
    perfect = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert ml.expected_calibration_error(perfect, torch.tensor([0, 1])) == 0.0

    with pytest.raises(ValueError, match="n_bins"):
        ml.reliability(perfect, torch.tensor([0, 1]), n_bins=0)
    with pytest.raises(ValueError, match="labels"):
        ml.expected_calibration_error(perfect, torch.tensor([0, 1, 1]))
