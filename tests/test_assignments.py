"""The classroom assignments (assignments/NN_slug.ipynb, otter-grader format): otter assign
builds each one, its solution scores full marks under `otter run`, the student notebook as
handed out scores zero, a plausible wrong answer loses exactly the points of the hidden
tests that should catch it, and an answer that calls mlcore's own implementation scores 0.
The wrong answers are tested at function level: the hidden tests are the functions of
assignments/checks_NN.py, which the autograder's test cells call."""
import importlib
import inspect
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import mlcore as ml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "assignments").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "assignments"))


def otter(*args, cwd):
    return subprocess.run([sys.executable, "-m", "otter", *args], cwd=cwd, check=True,
                          capture_output=True, text=True)


@pytest.fixture(scope="module", params=SOURCES, ids=lambda path: path.stem)
def assigned(request, tmp_path_factory):
    """The output of `otter assign` for one assignment: (autograder zip, solution, student)."""
    out = tmp_path_factory.mktemp(request.param.stem)
    otter("assign", str(request.param), str(out / "dist"), cwd=out)
    zip_file, = (out / "dist" / "autograder").glob("*.zip")
    name = request.param.name
    return zip_file, out / "dist" / "autograder" / name, out / "dist" / "student" / name


def scores(zip_file, notebook, out):
    out.mkdir()
    otter("run", "--no-logo", "-a", str(zip_file), "-o", str(out), str(notebook), cwd=out)
    tests = json.loads((out / "results.json").read_text())["tests"]
    return {t["name"]: (t["score"], t["max_score"]) for t in tests if "max_score" in t}


def test_the_solution_scores_full_marks_and_the_handout_zero(assigned, tmp_path):
    zip_file, solution, student = assigned
    solved = scores(zip_file, solution, tmp_path / "solution")
    assert solved and all(score == top for score, top in solved.values()), solved
    blank = scores(zip_file, student, tmp_path / "student")
    assert blank.keys() == solved.keys() and all(s == 0 for s, _ in blank.values()), blank


def hidden_checks(source):
    """{question: {check function name: points}} read from the source's test cells."""
    questions, current = {}, None
    for cell in json.loads(source.read_text())["cells"]:
        text = "".join(cell["source"])
        if name := re.match(r"# BEGIN QUESTION\nname: (\w+)", text):
            current = questions.setdefault(name.group(1), {})
        for check in re.findall(r"checks_\d\d\.(\w+)\(", text):
            current[check] = int(re.search(r"points: (\d+)", text).group(1))
    return questions


def lost_points(number, question, answer):
    """Run the hidden checks of `question` that grade `answer` (those whose argument is named
    like the function it answers, `answer.stands_for` or its own name); {check: points} of
    those that fail."""
    checks = importlib.import_module(f"checks_{number}")
    source, = [s for s in SOURCES if s.name.startswith(number)]
    lost = {}
    for check, points in hidden_checks(source)[question].items():
        graded = next(iter(inspect.signature(getattr(checks, check)).parameters))
        if graded != getattr(answer, "stands_for", graded):
            continue
        try:
            getattr(checks, check)(answer)
        except AssertionError:
            lost[check] = points
    return lost


# ---- wrong answers: (assignment, question, answer, the checks that must fail) --------------

def prototypes_of_the_last_image(embeddings, labels, n_way):
    return torch.stack([embeddings[labels == k][-1] for k in range(n_way)])


def euclidean_not_squared(queries, centres):
    return -(queries[:, None] - centres[None]).norm(dim=-1)


def protonet_loss_with_query_prototypes(encoder, task, n_way):
    features = encoder(torch.cat([task.support.x, task.query.x]))
    query = features[len(task.support.x):]
    centres = torch.stack([query[task.query.y == k].mean(0) for k in range(n_way)])
    return F.cross_entropy(-(query[:, None] - centres[None]).pow(2).sum(-1), task.query.y)


def matching_without_softmax(support_features, support_labels, query_features, n_way):
    cosine = F.normalize(query_features, dim=-1) @ F.normalize(support_features, dim=-1).T
    return (cosine @ F.one_hot(support_labels, n_way).float()).clamp_min(1e-12).log()


def protonet_prototypes(embeddings, labels, n_way):
    return ml.methods.protonet.prototypes(embeddings, labels, n_way)


WRONG = [
    ("05", "q1", prototypes_of_the_last_image, {"prototypes_are_class_means"}),
    ("05", "q1", protonet_prototypes, {"prototypes_are_class_means"}),
    ("05", "q2", euclidean_not_squared, {"logits_are_negative_squared_distances"}),
    ("05", "q3", protonet_loss_with_query_prototypes, {"loss_matches_protonet"}),
    ("05", "q4", matching_without_softmax, {"matching_matches_attention"}),
]




def split_ignoring_alphabets(alphabets, n_test, generator):
    order = torch.randperm(len(alphabets), generator=generator).tolist()
    return order[n_test * 5:], order[:n_test * 5]


def episode_with_shared_images(dataset, n_way, k_shot, k_query, generator):
    classes = torch.randperm(len(dataset), generator=generator)[:n_way]
    picks = torch.randint(dataset.images.shape[1], (n_way, k_shot + k_query), generator=generator)
    images = dataset.images[classes[:, None], picks]
    labels = torch.arange(n_way)[:, None].expand(n_way, k_shot + k_query)
    return ml.Task(ml.Split(images[:, :k_shot].flatten(0, 1), labels[:, :k_shot].flatten()),
                   ml.Split(images[:, k_shot:].flatten(0, 1), labels[:, k_shot:].flatten()))


def interval_of_the_population_std(scores):
    return 1.96 * scores.std(unbiased=False).item() / len(scores) ** 0.5


def euclidean_nearest_neighbour(task):
    distance = torch.cdist(task.query.x.flatten(1), task.support.x.flatten(1))
    return task.support.y[distance.argmin(1)]


WRONG += [
    ("01", "q1", split_ignoring_alphabets, {"split_keeps_alphabets_apart"}),
    ("01", "q2", episode_with_shared_images, {"episode_follows_the_protocol"}),
    ("01", "q3", interval_of_the_population_std, {"interval_is_1_96_standard_errors"}),
    ("01", "q4", euclidean_nearest_neighbour, {"nearest_neighbour_matches_pixelnn"}),
]

def inner_loop_always_first_order(net, params, support, alpha, steps, first_order=False):
    phi = params
    for _ in range(steps):
        loss = F.mse_loss(torch.func.functional_call(net, phi, (support.x,)), support.y)
        grads = torch.autograd.grad(loss, list(phi.values()))
        phi = {k: v - alpha * g.detach() for (k, v), g in zip(phi.items(), grads)}
    return phi


def maml_loss_always_first_order(net, params, task, alpha, steps, first_order=False):
    phi = inner_loop_always_first_order(net, params, task.support, alpha, steps)
    return F.mse_loss(torch.func.functional_call(net, phi, (task.query.x,)), task.query.y)


def reptile_away_from_phi(theta, phi, epsilon):
    return {k: theta[k] + epsilon * (theta[k] - phi[k]) for k in theta}


def forward_difference(f, params, direction, h=1e-4):
    return (f({k: v + h * direction[k] for k, v in params.items()}) - f(params)) / h


WRONG += [
    ("02", "q1", inner_loop_always_first_order, {"inner_loop_is_differentiable"}),
    ("02", "q2", maml_loss_always_first_order, {"meta_gradient_is_second_order"}),
    ("02", "q3", reptile_away_from_phi, {"reptile_moves_towards_phi"}),
    ("02", "q4", forward_difference, {"central_difference_is_second_order_accurate"}),
]

def preprocess_without_the_cut(grad, p=10.0):
    return torch.stack([grad.abs().clamp_min(1e-30).log() / p, grad.sign()], dim=-1)


def lstm_step_forgetting_its_state(cells, head, grad, state, output_scale=0.1):
    from mlcore.data import digits  # noqa: F401  (an allowed helper module: not flagged)
    x = torch.stack([grad.reshape(-1).abs().clamp_min(math.exp(-10)).log() / 10,
                     grad.reshape(-1).sign()], dim=-1)
    for cell in cells:
        x, _ = cell(x)                                        # zeros every step
    return output_scale * head(x).reshape(grad.shape), state


def gated_update_without_forget_gate(c, grad, loss, i, f, input_gate, forget_gate):
    big = lambda g: torch.stack([g.abs().clamp_min(math.exp(-10)).log() / 10, g.sign()], -1)  # noqa: E731
    inputs = torch.cat([big(grad), big(loss).expand(len(c), 2), c[:, None]], 1)
    i = torch.sigmoid(input_gate(torch.cat([inputs, i[:, None]], 1))).squeeze(1)
    return c - i * grad, i, f


WRONG += [
    ("03", "q1", preprocess_without_the_cut, {"preprocess_matches_appendix_a"}),
    ("03", "q2", lstm_step_forgetting_its_state, {"lstm_step_matches_mlcore"}),
    ("03", "q3", gated_update_without_forget_gate, {"gated_update_matches_meta_lstm"}),
]

def read_weights_by_dot_product(keys, memory, kappa):
    return torch.softmax(kappa * keys @ memory.T, dim=-1)


def least_used_marks_the_largest(w_usage, n):
    return torch.zeros_like(w_usage).scatter(0, w_usage.argsort(descending=True)[:n], 1.0)


def write_always_where_it_read(memory, w_usage, w_read, w_least_used, keys, alpha):
    cleared = memory.clone()
    cleared[w_usage.argmin()] = 0
    return cleared + w_read.T @ keys, w_read


least_used_marks_the_largest.stands_for = "least_used"


def labels_not_offset(y, n_way):
    return F.one_hot(y, n_way).float()


WRONG += [
    ("04", "q1", read_weights_by_dot_product, {"read_weights_match"}),
    ("04", "q2", least_used_marks_the_largest, {"least_used_marks_the_smallest"}),
    ("04", "q3", write_always_where_it_read, {"write_goes_to_least_used_or_last_read"}),
    ("04", "q4", labels_not_offset, {"labels_arrive_one_step_late"}),
]


def implied_prior_without_lambda(eigenvalues, alpha, steps):
    kept = (1 - alpha * eigenvalues) ** steps
    return (1 - kept) / kept


def implied_prior_without_the_range_check(eigenvalues, alpha, steps):
    kept = (1 - alpha * eigenvalues) ** steps
    return (1 - kept) / (eigenvalues * kept)


def kfac_factors_without_the_bias(inputs, output_hessians):
    return inputs.T @ inputs / len(inputs), output_hessians.mean(0)


def kfac_factors_summed(inputs, output_hessians):
    a = torch.cat([inputs, torch.ones(len(inputs), 1, dtype=inputs.dtype)], 1)
    return a.T @ a, output_hessians.sum(0)


def kfac_logdet_damping_each_factor(A, G, n, damping):  # Martens & Grosse's factored damping
    root = damping ** 0.5
    return (G.shape[0] * torch.logdet(n * A + root * torch.eye(len(A), dtype=A.dtype))
            + A.shape[0] * torch.logdet(G + root * torch.eye(len(G), dtype=G.dtype)))


def kfac_logdet_without_the_sizes(A, G, n, damping):
    return torch.logdet(n * A) + torch.logdet(G)


WRONG += [
    ("07", "q1", implied_prior_without_lambda, {"implied_prior_matches"}),
    ("07", "q1", implied_prior_without_the_range_check, {"implied_prior_matches"}),
    ("07", "q2", kfac_factors_without_the_bias, {"kfac_factors_match"}),
    ("07", "q2", kfac_factors_summed, {"kfac_factors_match"}),
    ("07", "q3", kfac_logdet_damping_each_factor, {"kfac_logdet_matches"}),
    ("07", "q3", kfac_logdet_without_the_sizes, {"kfac_logdet_matches"}),
]

def svgd_without_repulsion(particles, grad_log_p, bandwidth):
    kernel = torch.exp(-(particles[:, None] - particles[None]).pow(2).sum(-1) / bandwidth)
    return kernel @ grad_log_p / len(particles)


def svgd_repulsion_attracts(particles, grad_log_p, bandwidth):
    kernel = torch.exp(-(particles[:, None] - particles[None]).pow(2).sum(-1) / bandwidth)
    pull = 2 / bandwidth * (kernel @ particles - kernel.sum(1, keepdim=True) * particles)
    return (kernel @ grad_log_p + pull) / len(particles)


def _platipus_loss(mu, log_sigma, log_q_scale, gamma_p, gamma_q, alpha, task, kl_weight, noise,
                   q_sees=lambda task: task.query, keep_graph=True):
    def loss(w, split):
        x = torch.cat([split.x / 2.5, torch.sin(split.x), torch.cos(split.x),
                       torch.ones_like(split.x)], 1)
        return ((x @ w - split.y[:, 0]) ** 2).mean()

    def step(w, split, size):
        return w - size * torch.autograd.grad(loss(w, split), w, create_graph=keep_graph)[0]

    q_mean, p_mean = step(mu, q_sees(task), gamma_q), step(mu, task.support, gamma_p)
    q_std, p_std = log_q_scale.exp(), log_sigma.exp()
    phi = step(q_mean + q_std * noise, task.support, alpha)
    ratio = (q_std / p_std) ** 2
    kl = 0.5 * (ratio + ((q_mean - p_mean) / p_std) ** 2 - 1 - ratio.log()).sum()
    return loss(phi, task.query) + kl_weight * kl


def platipus_q_on_the_support(*args):
    return _platipus_loss(*args, q_sees=lambda task: task.support)


def platipus_first_order(*args):
    return _platipus_loss(*args, keep_graph=False)


WRONG += [
    ("08", "q1", svgd_without_repulsion, {"svgd_direction_matches"}),
    ("08", "q1", svgd_repulsion_attracts, {"svgd_direction_matches"}),
    ("08", "q2", platipus_q_on_the_support, {"platipus_loss_matches"}),
    ("08", "q2", platipus_first_order, {"platipus_loss_matches"}),
]

# answers that call mlcore's own implementation of what they are asked for

def episode_from_mlcore(dataset, n_way, k_shot, k_query, generator):
    seed = int(torch.randint(1 << 30, (1,), generator=generator))
    return ml.data.EpisodeSampler(dataset, n_way, k_shot, k_query, seed=seed).task()


episode_from_mlcore.stands_for = "sample_episode"


def inner_loop_from_mlcore(net, params, support, alpha, steps, first_order=False):
    def support_loss(phi):
        return F.mse_loss(torch.func.functional_call(net, phi, (support.x,)), support.y)
    return ml.gradient_steps(support_loss, params, alpha, steps, first_order)


def least_used_from_mlcore(w_usage, n):
    from mlcore.methods.mann import least_used
    return least_used(w_usage[None], n)[0]


least_used_from_mlcore.stands_for = "least_used"


def kfac_logdet_from_mlcore(A, G, n, damping):
    return ml.methods.llama.kfac_logdet(A, G, n, damping)


def svgd_from_mlcore(particles, grad_log_p, bandwidth):
    return ml.methods.bmaml.svgd_direction(particles, grad_log_p, bandwidth)

WRONG += [
    ("01", "q2", episode_from_mlcore, {"episode_follows_the_protocol",
                                       "episode_uses_the_generator"}),
    ("02", "q1", inner_loop_from_mlcore, {"inner_loop_matches_gradient_steps",
                                          "inner_loop_is_differentiable"}),
    ("04", "q2", least_used_from_mlcore, {"least_used_marks_the_smallest"}),
    ("07", "q3", kfac_logdet_from_mlcore, {"kfac_logdet_matches"}),
    ("08", "q1", svgd_from_mlcore, {"svgd_direction_matches"}),
]


def kl_with_sigma_for_variance(means, log_stds):   # sigma where sigma^2 belongs
    return sum(0.5 * (s.exp() + mu ** 2 - 1 - 2 * s).sum() for mu, s in zip(means, log_stds))


def kl_averaged_not_summed(means, log_stds):
    return sum(0.5 * ((2 * s).exp() + mu ** 2 - 1 - 2 * s).mean() for mu, s in zip(means, log_stds))


def sample_without_gradient_to_sigma(params, log_stds, generator):
    return {name: mu + log_stds[name].detach().exp() * torch.randn(mu.shape, generator=generator)
            for name, mu in params.items()}


def sample_with_variance_as_scale(params, log_stds, generator):
    return {name: mu + (2 * log_stds[name]).exp() * torch.randn(mu.shape, generator=generator)
            for name, mu in params.items()}


def kl_from_mlcore(means, log_stds):
    from mlcore.methods.mr_maml import standard_normal_kl
    names = [str(i) for i in range(len(means))]
    return standard_normal_kl(dict(zip(names, means)), names, log_stds)


WRONG += [
    ("09", "q1", kl_with_sigma_for_variance, {"kl_matches"}),
    ("09", "q1", kl_averaged_not_summed, {"kl_matches"}),
    ("09", "q1", kl_from_mlcore, {"kl_matches"}),
    ("09", "q2", sample_without_gradient_to_sigma, {"sampling_matches"}),
    ("09", "q2", sample_with_variance_as_scale, {"sampling_matches"}),
]



def relation_within_the_class_only(codes, labels, n_way, relation):
    rows = []
    for k in range(n_way):
        own = codes[labels == k]
        n = len(own)
        pairs = torch.cat([own[:, None].expand(n, n, -1), own[None].expand(n, n, -1)], -1)
        rows.append(relation(pairs).mean((0, 1)))
    mean, raw = torch.stack(rows).chunk(2, -1)
    return mean, F.softplus(raw)


def relation_with_exp_for_softplus(codes, labels, n_way, relation):
    n = len(codes)
    pairs = torch.cat([codes[:, None].expand(n, n, -1), codes[None].expand(n, n, -1)], -1)
    per_example = relation(pairs).mean(1)
    mean, raw = torch.stack([per_example[labels == k].mean(0) for k in range(n_way)]).chunk(2, -1)
    return mean, raw.exp()


def relation_assuming_sorted_labels(codes, labels, n_way, relation):
    n = len(codes)
    pairs = torch.cat([codes[:, None].expand(n, n, -1), codes[None].expand(n, n, -1)], -1)
    per_class = relation(pairs).mean(1).view(n_way, -1, 2 * codes.shape[1]).mean(1)
    mean, raw = per_class.chunk(2, -1)
    return mean, F.softplus(raw)


def relation_with_mlcore_prototypes(codes, labels, n_way, relation):
    n = len(codes)
    pairs = torch.cat([codes[:, None].expand(n, n, -1), codes[None].expand(n, n, -1)], -1)
    mean, raw = ml.methods.protonet.prototypes(relation(pairs).mean(1), labels, n_way).chunk(2, -1)
    return mean, F.softplus(raw)


def latent_steps_first_order(z, decode, support, step_sizes, steps):
    for _ in range(steps):
        loss = F.cross_entropy(support.x @ decode(z).T, support.y, reduction="sum")
        gradient, = torch.autograd.grad(loss, z)
        z = z - step_sizes * gradient
    return z


def latent_steps_on_the_mean_loss(z, decode, support, step_sizes, steps):
    for _ in range(steps):
        loss = F.cross_entropy(support.x @ decode(z).T, support.y)
        gradient, = torch.autograd.grad(loss, z, create_graph=True)
        z = z - step_sizes * gradient
    return z


def latent_steps_with_one_step_size(z, decode, support, step_sizes, steps):
    for _ in range(steps):
        loss = F.cross_entropy(support.x @ decode(z).T, support.y, reduction="sum")
        gradient, = torch.autograd.grad(loss, z, create_graph=True)
        z = z - step_sizes.mean() * gradient
    return z


WRONG += [
    ("10", "q1", relation_within_the_class_only, {"relation_matches"}),
    ("10", "q1", relation_with_exp_for_softplus, {"relation_matches"}),
    ("10", "q1", relation_assuming_sorted_labels, {"relation_matches"}),
    ("10", "q1", relation_with_mlcore_prototypes, {"relation_matches"}),
    ("10", "q2", latent_steps_first_order, {"latent_steps_match"}),
    ("10", "q2", latent_steps_on_the_mean_loss, {"latent_steps_match"}),
    ("10", "q2", latent_steps_with_one_step_size, {"latent_steps_match"}),
]

@pytest.mark.parametrize("number, question, answer, caught", WRONG,
                         ids=[f"{n}-{q}-{a.__name__}" for n, q, a, _ in WRONG])
def test_a_wrong_answer_loses_exactly_the_points_that_catch_it(number, question, answer, caught):
    lost = lost_points(number, question, answer)
    assert set(lost) == caught, f"{answer.__name__} failed {sorted(lost)}, expected {caught}"
