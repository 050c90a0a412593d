"""Chapter 05's metric learners against their closed forms, and their samplers."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mlcore as ml
from mlcore.methods.protonet import linear_form, prototypes


class Flat(nn.Flatten):
    """The identity on vectors, as an encoder: the embedding of x is x itself."""

    def __init__(self, n_features):
        super().__init__()
        self.n_features = n_features


def hand_made_task():
    support = ml.Split(torch.tensor([[1.0, 0.0], [0.8, 0.3], [0.0, 1.0], [-1.0, 0.2]]),
                       torch.tensor([0, 0, 1, 2]))
    query = ml.Split(torch.tensor([[0.9, 0.1], [0.1, 0.9], [-0.7, 0.0]]), torch.tensor([0, 1, 2]))
    return ml.Task(support, query)


def test_prototypes_are_class_means():
    task = hand_made_task()
    centres = prototypes(task.support.x, task.support.y, 3)
    torch.testing.assert_close(centres[0], task.support.x[:2].mean(0))
    torch.testing.assert_close(centres[2], task.support.x[3])


def test_protonet_logits_equal_the_linear_form():
    torch.manual_seed(0)
    task = ml.data.EpisodeSampler(ml.data.ImageDataset(torch.rand(6, 4, 1, 28, 28),
                                                       tuple("abcdef"), tuple("aabbcc")),
                                  3, 2, 2).task()
    protonet = ml.methods.ProtoNet(ml.nets.Conv4(hidden=8), 3)
    support, query = protonet.embed(task.support.x, task.query.x)
    w, b = linear_form(prototypes(support, task.support.y, 3))
    linear = query @ w.T + b - query.pow(2).sum(-1, keepdim=True)
    torch.testing.assert_close(protonet.predict(task), linear, rtol=1e-4, atol=1e-4)
    # the -||f||^2 term is the same for every class: both give the same probabilities
    torch.testing.assert_close(protonet.predict(task).softmax(-1), (query @ w.T + b).softmax(-1),
                               rtol=1e-4, atol=1e-5)


def test_protonet_cosine_distance_and_bad_distance():
    task = hand_made_task()
    protonet = ml.methods.ProtoNet(Flat(2), 3, distance="cosine")
    centres = prototypes(task.support.x, task.support.y, 3)
    expected = F.cosine_similarity(task.query.x[:, None], centres[None], dim=-1) - 1
    torch.testing.assert_close(protonet.predict(task), expected)
    assert protonet.predict(task).argmax(-1).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="distance='manhattan'"):
        ml.methods.ProtoNet(Flat(2), 3, distance="manhattan")


def test_matching_network_without_fce_is_the_closed_form_attention_classifier():
    task = hand_made_task()
    cosine = F.normalize(task.query.x, dim=-1) @ F.normalize(task.support.x, dim=-1).T
    expected = torch.softmax(cosine, dim=-1) @ F.one_hot(task.support.y, 3).float()  # eq. (1)
    predicted = ml.methods.MatchingNetwork(Flat(2), 3).predict(task)
    torch.testing.assert_close(predicted.exp(), expected)
    assert predicted.argmax(-1).tolist() == [0, 1, 2]


def test_matching_network_fce_attention_is_a_distribution_and_uses_the_whole_support():
    torch.manual_seed(0)
    task = hand_made_task()
    matching = ml.methods.MatchingNetwork(Flat(2), 3, fce=True, attention_steps=3)
    attention = matching.attention(task)
    assert attention.shape == (3, 4)
    torch.testing.assert_close(attention.sum(-1), torch.ones(3))
    # with FCE the embedding of a support example depends on the other support examples
    g = matching.embed_support(task.support.x)
    g_without_last = matching.embed_support(task.support.x[:3])
    assert not torch.allclose(g[0], g_without_last[0])


def test_siamese_one_shot_prediction_picks_the_most_similar_support_example():
    siamese = ml.methods.Siamese(Flat(2), 3)
    with torch.no_grad():  # logit = -L1 distance: the most similar is the nearest in L1
        siamese.distance_weights.weight.fill_(-1.0), siamese.distance_weights.bias.zero_()
    task = hand_made_task()
    nearest = torch.cdist(task.query.x, task.support.x, p=1).argmin(-1)
    assert siamese.predict(task).argmax(-1).tolist() == task.support.y[nearest].tolist()


def test_pair_sampler_half_same_half_different(tiny_images):
    pairs = ml.data.PairSampler(tiny_images, n_pairs=10, seed=0).task().query
    assert pairs.x.shape == (10, 2, 1, 28, 28)
    assert pairs.y.tolist() == [1.0] * 5 + [0.0] * 5
    flat = tiny_images.images.flatten(2)                          # (classes, per_class, pixels)
    def class_of(image):
        return int((flat == image.flatten()).all(-1).any(-1).nonzero()[0])
    for (first, second), same in zip(pairs.x, pairs.y):
        assert (class_of(first) == class_of(second)) == bool(same)
        assert not torch.equal(first, second)                     # two different drawers


def test_pair_sampler_distortions_and_errors(tiny_images):
    plain = ml.data.PairSampler(tiny_images, n_pairs=8, seed=0).task().query.x
    distorted = ml.data.PairSampler(tiny_images, n_pairs=8, distort=True, seed=0).task().query.x
    assert distorted.shape == plain.shape and not torch.equal(distorted, plain)
    with pytest.raises(ValueError, match="n_pairs=7"):
        ml.data.PairSampler(tiny_images, n_pairs=7)


def test_zero_shot_tasks_carry_the_meta_data_of_their_classes(tiny_images):
    meta = ml.data.ImageDataset(tiny_images.images[:, :1] * 0.5, tiny_images.classes,
                                tiny_images.alphabets)
    sampler = ml.data.ZeroShotSampler(tiny_images, meta, n_way=3, k_query=2, seed=0)
    task, classes = sampler.task(return_classes=True)
    torch.testing.assert_close(task.support.x, meta.images[classes, 0])
    assert task.support.y.tolist() == [0, 1, 2]
    for label, cls in enumerate(classes):
        for image in task.query.x[task.query.y == label]:
            assert (tiny_images.images[cls] == image).flatten(1).all(-1).any()
    with pytest.raises(ValueError, match="meta_data"):
        ml.data.ZeroShotSampler(tiny_images, meta.subset(range(6)), n_way=3, k_query=2)


def test_glyph_templates_match_their_classes():
    drawings = ml.data.load_glyphs("meta_test")
    templates = ml.data.load_glyph_templates("meta_test")
    assert templates.classes == drawings.classes
    assert templates.images.shape == (len(drawings), 1, 1, 28, 28)
    # a template is most like the drawings of its own character (pixel cosine; chance: 2%)
    flat_drawings = F.normalize(drawings.images[:50].flatten(2), dim=-1)    # (50, 20, pixels)
    flat_templates = F.normalize(templates.images[:50].flatten(1), dim=-1)  # (50, pixels)
    similarity = torch.einsum("cdp,tp->cdt", flat_drawings, flat_templates).mean(1)  # (50, 50)
    assert (similarity.argmax(-1) == torch.arange(50)).float().mean() > 0.5


def test_affine_identity_and_a_whole_pixel_shift():
    from mlcore.data.pairs import affine
    images = torch.zeros(1, 1, 28, 28)
    images[0, 0, 10, 12] = 1.0
    none = affine(images, torch.zeros(1), torch.zeros(1), torch.ones(1), torch.zeros(1, 2))
    torch.testing.assert_close(none, images, atol=1e-5, rtol=0)
    shifted = affine(images, torch.zeros(1), torch.zeros(1), torch.ones(1),
                     torch.tensor([[2.0, 0.0]]))
    assert shifted[0, 0, 10].argmax() == 10    # sampled 2 pixels to the right: moved left
