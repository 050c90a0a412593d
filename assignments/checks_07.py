"""Hidden tests of assignment 07 (MAML as hierarchical Bayes): each function fails with an
AssertionError that says what is wrong. Compared with mlcore's LLAMA helpers and with exact
matrices on random inputs, in float64."""
import torch
from grading import own_work

from mlcore.methods import llama

FORBIDDEN = ["mlcore.methods"]


def _random(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def implied_prior_matches(implied_prior_variances):
    own_work(implied_prior_variances, FORBIDDEN)
    for seed, (fraction, steps) in enumerate([(0.5, 1), (0.3, 5), (0.1, 20), (0.9, 3)]):
        eigenvalues = _random(seed, 6).abs() + 0.1
        alpha = fraction / eigenvalues.max()
        torch.testing.assert_close(
            implied_prior_variances(eigenvalues, alpha, steps),
            llama.implied_prior_variances(eigenvalues, alpha, steps),
            msg="q_i = (1 - (1 - alpha l_i)^T) / (l_i (1 - alpha l_i)^T)")
    try:
        implied_prior_variances(torch.tensor([1.0, 4.0]), 0.3, 2)  # alpha * 4 = 1.2
    except ValueError:
        return
    raise AssertionError("alpha * lambda_i = 1.2 is outside (0, 1): raise a ValueError")


def kfac_factors_match(kfac_factors):
    own_work(kfac_factors, FORBIDDEN)
    inputs = _random(1, 7, 4)
    hessians = _random(2, 7, 3, 3)
    hessians = hessians @ hessians.transpose(1, 2)                 # symmetric, as a Hessian
    A, G = kfac_factors(inputs, hessians)
    expected_A, expected_G = llama.kfac_factors(inputs, hessians)
    torch.testing.assert_close(A, expected_A, msg="A = mean of [a, 1][a, 1]^T over the inputs")
    torch.testing.assert_close(G, expected_G, msg="G = mean of the output Hessians")
    appended = torch.cat([inputs, torch.ones(7, 1, dtype=inputs.dtype)], 1)
    exact = torch.kron(appended.T @ appended, torch.eye(3, dtype=inputs.dtype))
    A, G = kfac_factors(inputs, torch.eye(3, dtype=inputs.dtype).expand(7, 3, 3))
    torch.testing.assert_close(7 * torch.kron(A, G), exact,
                               msg="n A (x) G is the exact Hessian of a linear layer under the "
                                   "squared error")


def kfac_logdet_matches(kfac_logdet):
    own_work(kfac_logdet, FORBIDDEN)
    for seed, damping in [(3, 0.0), (4, 0.5), (5, 10.0)]:
        a, g = _random(seed, 6, 5), _random(seed + 10, 4, 3)
        A, G = a.T @ a / 6, g.T @ g / 4 + 0.1 * torch.eye(3, dtype=g.dtype)
        exact = torch.logdet(8 * torch.kron(A, G) + damping * torch.eye(15, dtype=A.dtype))
        torch.testing.assert_close(kfac_logdet(A, G, 8, damping), exact,
                                   msg="log det(n A (x) G + damping I): sum over the pairs of "
                                       "eigenvalues of log(n mu_i nu_l + damping)")
