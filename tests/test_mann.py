"""MANN (Santoro '16): label-offset episodes, reading by content, least recently used writes."""
import pytest
import torch

import mlcore as ml
from mlcore.methods.mann import MANN, least_used


def tiny_mann(**options):
    torch.manual_seed(0)
    return MANN(n_way=3, input_size=28 * 28, hidden=16, n_slots=8, width=5, n_reads=2,
                **options)


def episode(tiny_images, seed=0):
    return ml.data.SequenceSampler(tiny_images, n_way=3, n_instances=4, seed=seed).task()


def run_with_trace(mann, task):
    trace = []
    mann(task.query.x[None], task.query.y[None], trace=trace)
    return trace


def test_an_episode_shuffles_classes_labels_and_order(tiny_images):
    sampler = ml.data.SequenceSampler(tiny_images, n_way=3, n_instances=4, seed=0)
    first, second = sampler.task(), sampler.task()
    assert first.query.x.shape == (12, 1, 28, 28) and first.query.y.shape == (12,)
    assert len(first.support.y) == 0  # no support set in advance: each example is a query first
    assert sorted(first.query.y.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    assert not torch.equal(first.query.y, second.query.y)
    assert sampler.sample(5).query.x.shape == (5, 12, 1, 28, 28)


def test_step_t_sees_the_label_of_step_t_minus_1():
    y = torch.tensor([[2, 0, 1, 0]])
    labels = ml.data.offset_labels(y, n_way=3)
    assert labels.shape == (1, 4, 3)
    assert labels[0, 0].tolist() == [0, 0, 0]  # nothing before the first step
    assert labels[0, 1:].argmax(-1).tolist() == [2, 0, 1]


def test_presentations_count_how_often_a_class_was_shown():
    assert ml.data.presentations(torch.tensor([2, 0, 2, 2, 0])).tolist() == [1, 1, 2, 3, 2]


def test_logits_at_step_t_do_not_depend_on_the_label_of_step_t(tiny_images):
    mann, task = tiny_mann(), episode(tiny_images)
    logits = mann.predict(task)
    assert logits.shape == (12, 3)
    changed = task.query.y.clone()
    changed[5] = (changed[5] + 1) % 3
    other = mann(task.query.x[None], changed[None])[0]
    torch.testing.assert_close(other[:6], logits[:6])  # steps 1..6 saw labels 1..5 only
    assert not torch.allclose(other[6:], logits[6:])


def test_read_weights_sum_to_one(tiny_images):
    for step in run_with_trace(tiny_mann(), episode(tiny_images)):
        torch.testing.assert_close(step["w_read"].sum(-1), torch.ones(1, 2))


@pytest.mark.parametrize("key_strength, kappa", [(None, 1.0), (10.0, 10.0)])
def test_reading_is_a_softmax_of_kappa_times_cosine_similarity(tiny_images, key_strength, kappa):
    mann = tiny_mann(key_strength=key_strength)
    for step in run_with_trace(mann, episode(tiny_images))[:4]:
        key = torch.tanh(mann.key(step["h"])).view(1, 2, 5)
        cosine = torch.nn.functional.cosine_similarity(key[:, :, None], step["memory"][:, None],
                                                       dim=-1)  # (1, heads, n_slots)
        torch.testing.assert_close(step["w_read"], torch.softmax(kappa * cosine, dim=-1))


def test_least_used_marks_the_n_slots_of_smallest_usage():
    usage = torch.tensor([[0.5, 0.1, 0.9, 0.1, 0.3]])
    assert least_used(usage, 2).tolist() == [[0, 1, 0, 1, 0]]
    assert least_used(usage, 3).tolist() == [[0, 1, 0, 1, 1]]


@pytest.mark.parametrize("gate, source", [(-30.0, "w_least_used"), (30.0, "w_read")])
def test_writes_go_to_the_least_used_or_the_last_read_slots(tiny_images, gate, source):
    mann = tiny_mann()
    with torch.no_grad():
        mann.write_gate.fill_(gate)  # sigma(gate) = 0: least used; = 1: last read
    trace = run_with_trace(mann, episode(tiny_images))
    for before, after in zip(trace[:-1], trace[1:]):
        expected = before[source] if source == "w_read" else before[source][:, None]
        torch.testing.assert_close(after["w_write"], expected.expand(-1, 2, -1))


def test_the_least_used_slot_is_cleared_before_writing(tiny_images):
    mann = tiny_mann()
    with torch.no_grad():
        mann.write_gate.fill_(30.0)  # write where the heads read last: every slot gets a little
    trace = run_with_trace(mann, episode(tiny_images))
    for before, after in zip(trace[1:-1], trace[2:]):
        cleared = before["w_usage"][0].argmin()
        assert before["memory"][0, cleared].abs().sum() > 0   # it held something
        key = torch.tanh(mann.key(after["h"])).view(2, 5)      # this step's keys, one per head
        written = after["w_write"][0, :, cleared] @ key
        torch.testing.assert_close(after["memory"][0, cleared], written)  # and now only that


def test_without_memory_it_is_an_lstm_and_without_recurrence_a_feedforward_net(tiny_images):
    task = episode(tiny_images)
    lstm, feedforward = tiny_mann(memory=False), tiny_mann(memory=False, recurrent=False)
    assert lstm.predict(task).shape == feedforward.predict(task).shape == (12, 3)
    for model, forgets in ((feedforward, True), (lstm, False)):
        logits = model.predict(task)
        two_steps = model(task.query.x[None, 6:8], task.query.y[None, 6:8])[0]
        # step 8 alone sees x_8 and y_7: all a feedforward net sees there anyway
        assert torch.allclose(two_steps[1], logits[7]) == forgets
    with pytest.raises(ValueError, match="recurrent"):
        MANN(n_way=3, memory=True, recurrent=False)


def test_online_pixel_nn_takes_the_label_of_the_most_similar_earlier_image(tiny_images):
    task = episode(tiny_images)
    x = torch.cat([task.query.x[:6], task.query.x[:6]])  # the second half repeats the first
    y = torch.cat([task.query.y[:6], task.query.y[:6]])
    repeated = ml.Task(ml.Split(x, y), ml.Split(x, y))
    scores = ml.methods.OnlinePixelNN(n_way=3).predict(repeated)
    assert scores.shape == (12, 3)
    assert scores[6:].argmax(-1).tolist() == y[6:].tolist()


def test_bad_arguments_get_one_clear_error(tiny_images):
    with pytest.raises(ValueError, match="n_way"):
        ml.data.SequenceSampler(tiny_images, n_way=13)
    with pytest.raises(ValueError, match="n_instances"):
        ml.data.SequenceSampler(tiny_images, n_way=3, n_instances=7)
    with pytest.raises(ValueError, match="n_reads"):
        MANN(n_way=3, n_slots=4, n_reads=5)
