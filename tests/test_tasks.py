import pytest
import torch

import mlcore as ml
from mlcore.tasks import stack, unstack


def make_task(seed, n=5):
    g = torch.Generator().manual_seed(seed)
    return ml.Task(ml.Split(torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)),
                   ml.Split(torch.randn(n + 2, 3, generator=g), torch.randn(n + 2, 1, generator=g)))


def test_stack_adds_a_task_dimension_and_unstack_inverts_it():
    tasks = [make_task(s) for s in range(4)]
    batch = stack(tasks)
    assert isinstance(batch, ml.Task) and isinstance(batch.support, ml.Split)
    assert batch.support.x.shape == (4, 5, 3) and batch.query.y.shape == (4, 7, 1)
    for original, recovered in zip(tasks, unstack(batch)):
        for a, b in zip(original, recovered):
            torch.testing.assert_close(a.x, b.x)
            torch.testing.assert_close(a.y, b.y)


def test_vmap_maps_a_one_task_function_over_a_batched_task():
    tasks = [make_task(s) for s in range(3)]
    weight = torch.randn(3, 1)

    def query_loss(task):  # least squares fitted on the support, measured on the query
        fit = torch.linalg.lstsq(task.support.x, task.support.y).solution
        return ((task.query.x @ (fit + weight) - task.query.y) ** 2).mean()

    batched = torch.func.vmap(query_loss)(stack(tasks))
    looped = torch.stack([query_loss(t) for t in tasks])
    torch.testing.assert_close(batched, looped)


def test_stack_of_nothing_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        stack([])


def test_check_names_the_mismatched_split():
    task = make_task(0)
    ml.tasks.check(task)
    bad = ml.Task(task.support, ml.Split(task.query.x, task.query.y[:3]))
    with pytest.raises(ValueError, match="task.query"):
        ml.tasks.check(bad)
    with pytest.raises(ValueError, match="expected a Task"):
        ml.tasks.check((task.support, task.query))


def test_to_device_keeps_the_structure():
    moved = ml.tasks.to_device(make_task(0), "cpu")
    assert isinstance(moved, ml.Task) and moved.support.x.device.type == "cpu"
