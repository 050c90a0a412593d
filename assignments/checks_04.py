"""Hidden tests of assignment 04 (memory-augmented networks): each function fails with an
AssertionError that says what is wrong. Compared with mlcore's MANN on random states (one
episode: no batch dimension in the students' functions)."""
import torch
import torch.nn.functional as F
from grading import own_work

from mlcore.data.sequences import offset_labels as reference_offset
from mlcore.methods import mann

FORBIDDEN = ["mlcore.methods", "mlcore.data.sequences"]


def _state(seed=0, heads=2, slots=6, width=5):
    g = torch.Generator().manual_seed(seed)
    memory = torch.randn(slots, width, generator=g)
    memory[2] = 0                                                  # an empty slot
    keys = torch.randn(heads, width, generator=g)
    w_read = torch.softmax(torch.randn(heads, slots, generator=g), -1)
    w_usage = torch.rand(slots, generator=g) * 2
    return memory, keys, w_read, w_usage


def read_weights_match(read_weights):
    own_work(read_weights, FORBIDDEN)
    memory, keys, _, _ = _state()
    expected = torch.softmax(3.0 * mann.cosine_similarity(keys[None], memory[None]), -1)[0]
    torch.testing.assert_close(read_weights(keys, memory, 3.0), expected,
                               msg="softmax over the slots of kappa * cos(k, M(i)); "
                                   "an empty slot has cosine 0")


def usage_matches(usage):
    own_work(usage, FORBIDDEN)
    _, _, w_read, w_usage = _state(1)
    w_write = torch.softmax(torch.randn(2, 6), -1)
    torch.testing.assert_close(usage(w_usage, w_read, w_write, 0.95),
                               0.95 * w_usage + w_read.sum(0) + w_write.sum(0),
                               msg="w^u_t = gamma w^u_(t-1) + w^r_t + w^w_t, summed over heads")


def least_used_marks_the_smallest(least_used):
    own_work(least_used, FORBIDDEN)
    for seed in range(3):
        _, _, _, w_usage = _state(seed)
        torch.testing.assert_close(least_used(w_usage, 2),
                                   mann.least_used(w_usage[None], 2)[0],
                                   msg="1 on the n slots of smallest usage, 0 elsewhere")
    ties = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert least_used(ties, 2).tolist() == [0.0, 1.0, 1.0, 0.0], "ties: the lower index first"


def _reference_write(memory, w_usage, w_read, w_least_used, keys, alpha):
    gate = torch.sigmoid(alpha)[:, None]
    w_write = gate * w_read + (1 - gate) * w_least_used[None]
    cleared = mann.clear_least_used(memory[None], w_usage[None])[0]
    return cleared + w_write.T @ keys, w_write


def write_goes_to_least_used_or_last_read(write):
    own_work(write, FORBIDDEN)
    for seed, alpha in ((2, torch.tensor([0.3, -1.0])), (3, torch.tensor([-20.0, -20.0]))):
        memory, keys, w_read, w_usage = _state(seed)
        w_least_used = mann.least_used(w_usage[None], 2)[0]
        expected = _reference_write(memory, w_usage, w_read, w_least_used, keys, alpha)
        got = write(memory, w_usage, w_read, w_least_used, keys, alpha)
        torch.testing.assert_close(got[1], expected[1],
                                   msg="w^w = s w^r_(t-1) + (1 - s) w^lu_(t-1), s = sigma(alpha)")
        torch.testing.assert_close(got[0], expected[0],
                                   msg="clear the least-used slot, then add w^w(i) k per head")


def labels_arrive_one_step_late(offset_labels):
    own_work(offset_labels, FORBIDDEN)
    y = torch.tensor([2, 0, 2, 1, 0])
    torch.testing.assert_close(offset_labels(y, 3), reference_offset(y, 3),
                               msg="step t gets the one-hot label of step t - 1; zeros at t = 0")
    assert offset_labels(y, 3).dtype == F.one_hot(y, 3).float().dtype
