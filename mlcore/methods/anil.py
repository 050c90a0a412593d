"""ANIL — Rapid Learning or Feature Reuse? Towards Understanding the Effectiveness of MAML
(Raghu, Raghu, Bengio & Vinyals, 2020).

Chapter: notebooks/02_maml_feature_reuse.ipynb   Equations: MAML's (1)-(3) with only the
head's parameters w in the inner loop (the paper's ANIL algorithm).
Variants here: `steps`, `first_order` as in MAML. Differs from the paper in: nothing.
"""
from torch import nn
from torch.func import functional_call

from ..tasks import Split
from .maml import MAML


class ANIL(MAML):
    """ANIL — Almost No Inner Loop: only the head adapts; the body is shared (Raghu '20).

    `net` is a sequence of layers ending in one called `head`. The body does not change in
    the inner loop, so its features of the support set are computed once per task and the
    inner steps run on the head alone: w^{k+1} = w^k - alpha grad_w L(w^k; f(D^tr)).
    """

    def __init__(self, net, loss_fn, alpha, steps=1, head="head", **kwargs):
        super().__init__(net, loss_fn, alpha, steps, **kwargs)
        children = [name for name, _ in net.named_children()]
        if not isinstance(net, nn.Sequential) or children[-1:] != [head]:
            raise ValueError(f"head={head!r} is invalid: ANIL needs an nn.Sequential network "
                             f"whose last layer is called '{head}' (its layers: {children}).")
        self.head_name, self.head_prefix = head, head + "."

    def adapt(self, theta, support, steps=None, vmapped=False):
        """MAML's inner loop on the head, run on the body's features of the support set."""
        features = Split(self._body(theta, support.x), support.y)  # (n_support, n_features)
        return super().adapt(theta, features, steps, vmapped)

    def _body(self, theta, x):
        """The network without its head, with the parameters in `theta`."""
        for name, layer in list(self.net.named_children())[:-1]:
            own = {key[len(name) + 1:]: p for key, p in theta.items()
                   if key.startswith(name + ".")}
            x = functional_call(layer, own, (x,))
        return x

    def _support_loss(self, adapted, phi, support):  # support.x: features of the body
        head = {name[len(self.head_prefix):]: p for name, p in adapted.items()}
        outputs = functional_call(self.net.get_submodule(self.head_name), head, (support.x,))
        return self.loss_fn(outputs, support.y)

    def _adapted(self, phi):
        return {name: p for name, p in phi.items() if name.startswith(self.head_prefix)}
