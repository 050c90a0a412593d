"""LEO — Meta-Learning with Latent Embedding Optimization (Rusu, Rao, Sygnowski, Vinyals,
Pascanu, Osindero & Hadsell, 2019).

Chapters: notebooks/10_leo.ipynb, 10_leo_ablations.ipynb, 10_leo_five_shot.ipynb
Equations (numbered as in the ICLR submission; the camera-ready's may differ): (3) the
encoder-relation average over the N K^2 pairs of each class's examples with all examples,
mu_n^e, sigma_n^e = 1/(N K^2) sum_{k_n} sum_m sum_{k_m} g_r(g_e(x_n^{k_n}), g_e(x_m^{k_m})),
and z_n ~ N(mu_n^e, diag(sigma_n^e)^2); (4) the decoder mu_n^d, sigma_n^d = g_d(z_n) and the
class weights w_n ~ N(mu_n^d, diag(sigma_n^d)^2); (5) logits w_j . x and the support loss
summed over the support examples; Algorithm 1: latent steps z' <- z' - alpha * grad_z' L^tr
(alpha learned, one per latent dimension), decoding and sampling w again after every step;
then (section 4.2.3, in words only) fine-tuning steps w' <- w' - alpha_w * grad_w' L^tr
(alpha_w learned, one per feature); (6) the outer loss L^val + beta KL(q(z_n | D_n^tr) || N(0, I)) +
gamma ||stopgrad(z'_n) - z_n||^2; (7) R = lambda_1 ||phi||^2 + lambda_2 * the decoder's
orthogonality penalty, added once per meta-batch.
Variants here: `latent_steps=0` (no latent inner loop) and `finetune_steps=0` (no
fine-tuning) are the paper's ablations.
Differs from the authors' code (deepmind/leo, model.py) in: one z per class (the code draws
K codes per class from the class's distribution, one per support example, and averages their
decoded weights); the KL in closed form (the code: a one-sample estimate), like
the code averaged over the code's elements; sigma = softplus(u) (the code: max(e^u - 1,
1e-10)); the orthogonality penalty is the mean of (C - I)^2, as in the code (the submission
prints an L1 norm); the L2 term without the code's factor 1/2. At meta-test (eval mode) z and
w are the means and there is no dropout, as in the code.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..functional import gradient_steps, per_task
from ..nets import parameters_of
from ..train import classification_metrics
from ..validation import require
from .platipus import gaussian_kl
from .protonet import prototypes


class LEO(nn.Module):
    """Classify by the weights of a linear softmax classifier on fixed features, generated
    from a low-dimensional code per class that the inner loop adapts."""

    def __init__(self, n_features, n_way, n_latent=64, latent_steps=5, finetune_steps=5,
                 inner_lr=1.0, finetune_lr=1e-3, beta=1e-3, gamma=1e-9, l2=1e-8,
                 orthogonality=1e-3, dropout=0.5, batched=None):
        require(n_latent >= 1, "n_latent", n_latent, "give the code at least 1 dimension")
        require(latent_steps >= 0, "latent_steps", latent_steps, "give a number of steps >= 0")
        require(finetune_steps >= 0, "finetune_steps", finetune_steps,
                "give a number of steps >= 0")
        require(0 <= dropout < 1, "dropout", dropout, "give a dropout rate in [0, 1)")
        for name, weight in (("beta", beta), ("gamma", gamma), ("l2", l2),
                             ("orthogonality", orthogonality)):
            require(weight >= 0, name, weight, "weight the term by a number >= 0")
        super().__init__()
        self.n_way, self.batched = n_way, batched
        self.latent_steps, self.finetune_steps, self.dropout = latent_steps, finetune_steps, dropout
        self.beta, self.gamma, self.l2, self.orthogonality = beta, gamma, l2, orthogonality
        self.encoder = nn.Linear(n_features, n_latent, bias=False)                # g_e
        width = 2 * n_latent
        self.relation = nn.Sequential(                                            # g_r
            nn.Linear(width, width, bias=False), nn.ReLU(),
            nn.Linear(width, width, bias=False), nn.ReLU(),
            nn.Linear(width, width, bias=False))
        self.decoder = nn.Linear(n_latent, 2 * n_features, bias=False)           # g_d
        self.latent_lr = nn.Parameter(torch.full((n_latent,), float(inner_lr)))
        self.finetune_lr = nn.Parameter(torch.full((n_features,), float(finetune_lr)))

    def theta(self):
        """Every meta-parameter, name -> tensor (the networks and both learned step sizes)."""
        return dict(self.named_parameters())

    def encode(self, params, support):
        """Eq. (3): the mean and standard deviation of q(z_n | D_n^tr), each (n_way, n_latent)."""
        codes = functional_call(self.encoder, parameters_of(params, "encoder"),
                                (self._features(support.x),))                   # (NK, d)
        n = len(codes)
        pairs = torch.cat([codes[:, None].expand(n, n, -1),
                           codes[None, :].expand(n, n, -1)], -1)                 # (NK, NK, 2d)
        relations = functional_call(self.relation, parameters_of(params, "relation"), (pairs,))
        per_example = relations.mean(1)            # over the partners x_m^{k_m}: (NK, 2d)
        mean, raw = prototypes(per_example, support.y, self.n_way).chunk(2, -1)  # class means
        return mean, F.softplus(raw)

    def decode(self, params, z):
        """Eq. (4): the mean and standard deviation of the class weights, each (n_way, n_in)."""
        outputs = functional_call(self.decoder, parameters_of(params, "decoder"), (z,))
        mean, raw = outputs.chunk(2, -1)
        return mean, F.softplus(raw)

    def adapt(self, params, support):
        """Algorithm 1 for one task: {"z": the code, "z_adapted": after the latent steps,
        "w": the class weights after fine-tuning, "mean", "std": q(z | D^tr)}."""
        mean, std = self.encode(params, support)
        z = self._sample(mean, std)

        def support_loss(w):                                                     # eq. (5)
            return F.cross_entropy(self.logits(support.x, w), support.y, reduction="sum")

        def latent_loss(code):
            return support_loss(self._sample(*self.decode(params, code["z"])))

        z_adapted = gradient_steps(latent_loss, {"z": z}, {"z": params["latent_lr"]},
                                   self.latent_steps)["z"]
        w = self._sample(*self.decode(params, z_adapted))
        w = gradient_steps(lambda weights: support_loss(weights["w"]), {"w": w},
                           {"w": params["finetune_lr"]}, self.finetune_steps)["w"]
        return {"z": z, "z_adapted": z_adapted, "w": w, "mean": mean, "std": std}

    def logits(self, x, w):
        """w_j . x for every class j: (n, n_way)."""
        return self._features(x) @ w.T

    def meta_loss(self, batch):
        """Eq. (6) averaged over the tasks, plus R (eq. 7) once."""
        losses, outputs, kls, penalties = per_task(self._task_loss, batch, self.theta(),
                                                   batched=self.batched)
        metrics = {**classification_metrics(outputs, batch.query.y),
                   "kl": kls.mean().detach(), "latent_penalty": penalties.mean().detach()}
        return losses.mean() + self.regularizer(), metrics

    def regularizer(self):
        """Eq. (7): lambda_1 times the squared weights of g_e, g_r and g_d, plus lambda_2 times
        the decoder's orthogonality penalty."""
        weights = [p for name, p in self.named_parameters() if not name.endswith("_lr")]
        squares = sum((p ** 2).sum() for p in weights)
        return self.l2 * squares + self.orthogonality * orthogonality_penalty(self.decoder.weight)

    def predict(self, task):
        """Logits of the queries after Algorithm 1's inner loops: (n_query, n_way)."""
        adapted = self.adapt(self.theta(), task.support)   # under no_grad too: see gradient_steps
        return self.logits(task.query.x, adapted["w"])

    def _task_loss(self, task, params):
        adapted = self.adapt(params, task.support)
        outputs = self.logits(task.query.x, adapted["w"])
        mean, std = adapted["mean"], adapted["std"]        # KL per coordinate, as the code
        kl = gaussian_kl(mean, std, torch.zeros_like(mean), torch.ones_like(std)) / mean.numel()
        penalty = ((adapted["z_adapted"].detach() - adapted["z"]) ** 2).mean()
        loss = F.cross_entropy(outputs, task.query.y) + self.beta * kl + self.gamma * penalty
        return loss, outputs, kl, penalty

    def _features(self, x):
        x = x.flatten(1)
        return F.dropout(x, self.dropout, training=True) if self.training and self.dropout else x

    def _sample(self, mean, std):
        return mean + std * torch.randn_like(mean) if self.training else mean


def orthogonality_penalty(weight):
    """The mean of (C - I)^2, C the cosine similarities of the decoder's latent-dimension
    weight vectors, the columns of `weight` (n_out, n_latent) in PyTorch's layout."""
    vectors = F.normalize(weight.T, dim=1)                                       # (d, n_out)
    cosines = vectors @ vectors.T
    identity = torch.eye(len(cosines), dtype=weight.dtype, device=weight.device)
    return ((cosines - identity) ** 2).mean()
