"""ANIL — Rapid Learning or Feature Reuse? Towards Understanding the Effectiveness of MAML
(Raghu, Raghu, Bengio & Vinyals, 2020).

Chapter: notebooks/02_maml_feature_reuse.ipynb   Equations: MAML's (1)-(3) with only the
head's parameters w in the inner loop (the paper's ANIL algorithm).
Variants here: `inner_steps`, `first_order` as in MAML. Differs from the paper in: nothing.
"""
from torch.func import functional_call

from ..functional import gradient_steps
from ..nets import parameters_of
from .maml import MAML


class ANIL(MAML):
    """ANIL — Almost No Inner Loop: only the head adapts; the body is shared (Raghu '20).

    `net` has two children, `body` and `head` (like `ml.nets.Conv4(n_out=...)`). The body
    does not change in the inner loop, so its features of the support set are computed once
    per task and the inner steps run on the head alone:
    w^{k+1} = w^k - alpha grad_w L(w^k; f(D^tr)).
    """

    def __init__(self, net, loss_fn, alpha, inner_steps=1, **kwargs):
        children = dict(net.named_children())
        if children.get("body") is None or children.get("head") is None:
            raise ValueError(f"net={type(net).__name__} is invalid for ANIL: it needs two "
                             f"children named 'body' and 'head' (it has {list(children)}); "
                             "use ml.nets.Conv4(n_out=n_way).")
        super().__init__(net, loss_fn, alpha, inner_steps, **kwargs)

    def adapt(self, theta, support, inner_steps=None):
        """MAML's inner loop on the head, run on the body's features of the support set."""
        body, head = self.net.body, self.net.head
        features = functional_call(body, parameters_of(theta, "body"), (support.x,))  # (n, d)

        def support_loss(w):
            return self.loss_fn(functional_call(head, w, (features,)), support.y)
        steps = self.inner_steps if inner_steps is None else inner_steps
        w = gradient_steps(support_loss, parameters_of(theta, "head"), self.step_size(), steps,
                           self.first_order)
        return {**theta, **{f"head.{name}": p for name, p in w.items()}}
