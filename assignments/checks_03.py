"""Hidden tests of assignment 03 (learned optimizers): each function fails with an
AssertionError that says what is wrong. Compared with mlcore's LSTM optimizer and
meta-learner LSTM."""
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from grading import own_work

import mlcore as ml
from mlcore.methods.lstm_optimizer import LSTMOptimizer
from mlcore.methods.lstm_optimizer import preprocess as reference_preprocess

FORBIDDEN = ["mlcore.methods"]


def preprocess_matches_appendix_a(preprocess):
    own_work(preprocess, FORBIDDEN)
    grad = torch.tensor([3.0, -0.5, 1e-3, -1e-6, 1e-9, 0.0, -2e-5, 4.6e-5])
    torch.testing.assert_close(preprocess(grad, 10.0), reference_preprocess(grad, 10.0),
                               msg="(log|g| / p, sign g) if |g| >= e^-p, else (-1, e^p g)")
    grad = torch.randn(3, 4) * 10 ** torch.randint(-8, 2, (3, 4))
    torch.testing.assert_close(preprocess(grad, 5.0), reference_preprocess(grad, 5.0),
                               msg="any shape (..., 2) and any p")


def lstm_step_matches_mlcore(lstm_optimizer_step):
    own_work(lstm_optimizer_step, FORBIDDEN)
    torch.manual_seed(0)
    reference = LSTMOptimizer(hidden=6, layers=2)
    parts = SimpleNamespace(cells=reference.cells, head=reference.head)  # weights only
    grads = [torch.randn(3, 4), torch.randn(3, 4) * 1e-3]
    state, expected_state = None, reference.initial_state(grads[0])
    for grad in grads:  # two steps: the second reads the state the first left
        step, state = lstm_optimizer_step(parts.cells, parts.head, grad, state)
        expected, expected_state = reference.update(grad, expected_state)
        torch.testing.assert_close(step, expected, msg="the coordinatewise step g_t (x 0.1)")


def gated_update_matches_meta_lstm(gated_update):
    own_work(gated_update, FORBIDDEN)
    torch.manual_seed(1)
    net = ml.nets.MLP([4, 3, 2])
    meta = ml.methods.MetaLSTM(net, F.cross_entropy, inner_steps=2)
    support = ml.Split(torch.randn(6, 4), torch.tensor([0, 1, 0, 1, 0, 1]))
    theta = meta.theta()
    c = torch.cat([p.detach().reshape(-1) for p in theta.values()])
    i = f = torch.zeros_like(c)
    for _ in range(2):
        loss, grad = meta._loss_and_gradient(theta, c, support)
        c, i, f = gated_update(c, grad, loss, i, f, meta.input_gate, meta.forget_gate)
    trace = []
    meta.adapt(theta, support, 2, trace=trace)
    expected = torch.cat([p.reshape(-1) for p in trace[-1]["theta"].values()])
    torch.testing.assert_close(c.detach(), expected, msg="c_t = f_t * c_(t-1) - i_t * grad")
