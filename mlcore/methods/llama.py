"""LLAMA — Recasting Gradient-Based Meta-Learning as Hierarchical Bayes (Grant, Finn, Levine,
Darrell & Griffiths, 2018): the Lightweight Laplace Approximation for Meta-Adaptation.

Chapter: notebooks/07_maml_as_bayes.ipynb   Equations: early-stopped gradient descent as MAP
under a Gaussian prior (section 3.1, eqs. 4-6, after Santos 1996), the hierarchical model
(eq. 2), ML-POINT (eq. 3, subroutine 3) and ML-LAPLACE (section 4.1, subroutine 4) with
K-FAC curvature (section 4.2; Martens & Grosse 2015). Section and equation numbers are those
of the ICLR submission, the only full text at hand.
Variants here: `implied_prior_variances` (the linear-regression result); `eta = 0` is MAML
(ML-POINT); `predict(..., n_samples=)` draws from the Laplace posterior.
Differs from the paper in: the Laplace approximation covers the network's last linear layer
only (K-FAC for convolutions would need KFC's factors, so a Conv4 body stays a point
estimate); the output-side factor G is the exact expected Gauss-Newton matrix (the true
Fisher's expectation over targets sampled from the model), not a sampled estimate; the
curvature gets a prior precision `damping` (subroutine 4 uses the query likelihood's
curvature alone); the loss is the paper's divided by the number of queries.
"""
import torch
from torch import nn
from torch.func import functional_call

from ..functional import per_example_hessians
from ..validation import require
from .maml import MAML


class LLAMA(MAML):
    """MAML whose query loss is the Laplace approximation of the task's marginal likelihood.

    Per task (subroutine 4): phi* = MAML's inner loop on D^tr; then, per query,
    [-log p(D^val | phi*) + eta log det H_hat] / |D^val|, H_hat = n A (x) G + damping I the
    K-FAC curvature of the query loss at phi* on the last linear layer plus the prior's
    precision `damping`. The log det rewards a phi* in a wide basin of the query loss.
    `eta = 0` is MAML.
    """

    def __init__(self, net, loss_fn, alpha, eta=1e-3, damping=1.0, inner_steps=1, **kwargs):
        require(eta >= 0, "eta", eta, "weight the log det term by a number >= 0")
        require(damping > 0, "damping", damping, "use a positive prior precision")
        super().__init__(net, loss_fn, alpha, inner_steps, **kwargs)
        self.eta, self.damping = eta, damping
        self.head_name, self.head = _last_linear(net)

    def log_det(self, features, outputs, targets):
        """log det H_hat from the head's inputs (n, d_in) and the network's outputs (n, d_out)."""
        A, G = kfac_factors(features, self._output_hessians(outputs, targets))
        return kfac_logdet(A, G, len(features), self.damping)

    def predict(self, task, inner_steps=None, n_samples=0, generator=None):
        """MAML's prediction; with `n_samples`, that many (n_samples, n_query, d_out), the last
        layer drawn from the Laplace posterior N(phi*, H_hat^-1), H_hat = n A (x) G + damping I
        of the support loss at phi*: in the factors' eigenbases, independent normals of
        variance 1 / (n mu_i nu_l + damping), mu_i and nu_l the eigenvalues of A and G."""
        if not n_samples:
            return super().predict(task, inner_steps)
        with torch.no_grad():
            steps = self.test_inner_steps if inner_steps is None else inner_steps
            phi = self.adapt(self.theta(), task.support, steps)
            a, outputs = self._head_input(phi, task.support.x)
            A, G = kfac_factors(a, self._output_hessians(outputs, task.support.y))
            (mu, U_A), (nu, U_G) = torch.linalg.eigh(A), torch.linalg.eigh(G)
            scale = (len(a) * nu[:, None] * mu[None, :] + self.damping) ** -0.5
            W = self._head_matrix(phi)                                 # (d_out, d_in + 1)
            z = torch.randn(n_samples, *W.shape, generator=generator).to(W)
            samples = W + U_G @ (z * scale) @ U_A.T                   # (s, d_out, d_in + 1)
            query, _ = self._head_input(phi, task.query.x)
            return torch.einsum("ni,soi->sno", _append_one(query), samples)

    def _query_loss(self, task, theta):
        phi = self.adapt(theta, task.support)
        features, outputs = self._head_input(phi, task.query.x)
        nll = self.loss_fn(outputs, task.query.y)  # a mean over the queries
        log_det = self.log_det(features, outputs, task.query.y) if self.eta else 0.0
        return nll + self.eta * log_det / len(task.query.y), outputs

    def _head_input(self, params, x):
        """The last linear layer's input (n, d_in) and the network's output, in one pass."""
        seen = []
        hook = self.head.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
        try:
            outputs = functional_call(self.net, params, (x,))
        finally:
            hook.remove()
        return seen[0], outputs

    def _head_matrix(self, params):
        weight, bias = params[f"{self.head_name}.weight"], params[f"{self.head_name}.bias"]
        return torch.cat([weight, bias[:, None]], 1)

    def _output_hessians(self, outputs, targets):
        """d2 loss / d output2 of each example alone: (n, d_out, d_out)."""
        return per_example_hessians(self.loss_fn, outputs, targets)


def implied_prior_variances(eigenvalues, alpha, steps):
    """q_i = (1 - (1 - alpha l_i)^T) / (l_i (1 - alpha l_i)^T): the variances, along the
    eigenvectors of X^T X (eigenvalues l_i), of the Gaussian prior N(theta, U diag(q) U^T)
    whose MAP estimate under unit noise equals T = `steps` steps of gradient descent of size
    alpha from theta on L(phi) = 1/2 ||X phi - y||^2 (section 3.1, where the steps are k).
    Needs 0 < alpha l_i < 1; as l_i -> 0, q_i -> T alpha."""
    rate = alpha * eigenvalues
    require(bool(((rate > 0) & (rate < 1)).all()), "alpha * eigenvalues",
            f"in [{float(rate.min()):.3g}, {float(rate.max()):.3g}]",
            "keep every alpha * lambda_i in (0, 1): at 1 one step reaches the least-squares "
            "fit (an infinitely wide prior), above 1 the steps overshoot and no Gaussian "
            "prior gives the same point")
    kept = (1 - rate) ** steps
    return (1 - kept) / (eigenvalues * kept)


def kfac_factors(inputs, output_hessians):
    """K-FAC factors of one linear layer y = W a + b (Martens & Grosse 2015, section 3):
    A = E[a~ a~^T] over the inputs with a 1 appended for the bias, and G = E[d2 loss / dy2]
    over the examples' output Hessians. The curvature of the summed loss is then about
    n A (x) G.   inputs (n, d_in), output_hessians (n, d_out, d_out)"""
    a = _append_one(inputs)                                        # (n, d_in + 1)
    return a.T @ a / len(a), output_hessians.mean(0)


def kfac_logdet(A, G, n, damping):
    """log det(n A (x) G + damping I), the K-FAC curvature of n examples plus the prior's
    precision: the eigenvalues of a Kronecker product are the products of its factors'
    eigenvalues mu_i nu_l, so the log det is sum_il log(n mu_i nu_l + damping). Two small
    eigendecompositions; with damping = 0 it is d_G log det(nA) + d_A log det G."""
    mu, nu = torch.linalg.eigvalsh(A), torch.linalg.eigvalsh(G)
    return torch.log(n * mu[:, None] * nu[None, :] + damping).sum()


def _last_linear(net):
    linears = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    require(bool(linears) and linears[-1][1].bias is not None, "net", type(net).__name__,
            "end the network with an nn.Linear layer with a bias (the Laplace layer)")
    return linears[-1]


def _append_one(inputs):
    """[a, 1] for every row: the bias as a last column of the weights.   (n, d + 1)"""
    return torch.cat([inputs, torch.ones_like(inputs[:, :1])], 1)
