"""Hidden tests of assignment 05 (metric learning): each function fails with an AssertionError
that says what is wrong. Compared with mlcore's implementations on random inputs."""
import torch
import torch.nn.functional as F
from grading import own_work

import mlcore as ml

FORBIDDEN = ["mlcore.methods"]


def _episode(n_way=5, per_class=3, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_way).repeat(per_class)[torch.randperm(n_way * per_class, generator=g)]
    return torch.randn(len(labels), d, generator=g), labels


def prototypes_are_class_means(prototypes):
    own_work(prototypes, FORBIDDEN)
    for seed in range(3):
        embeddings, labels = _episode(seed=seed)
        expected = ml.methods.protonet.prototypes(embeddings, labels, 5)
        torch.testing.assert_close(prototypes(embeddings, labels, 5), expected,
                                   msg="prototype k: the mean of the embeddings labelled k")


def logits_are_negative_squared_distances(squared_euclidean_logits):
    own_work(squared_euclidean_logits, FORBIDDEN)
    g = torch.Generator().manual_seed(1)
    queries, centres = torch.randn(7, 6, generator=g), torch.randn(4, 6, generator=g)
    expected = -ml.methods.protonet.distances(queries, centres)
    torch.testing.assert_close(squared_euclidean_logits(queries, centres), expected,
                               msg="logit of class k: minus the squared distance to c_k")


def _task_and_encoder(seed=0):
    torch.manual_seed(seed)
    task = ml.data.EpisodeSampler(_glyphs(), 5, 2, 3, seed=seed).task()
    return task, ml.nets.Conv4(hidden=8)


def _glyphs():
    images = torch.rand(12, 6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return ml.data.ImageDataset(images, tuple(f"c{i}" for i in range(12)),
                                tuple(f"a{i % 4}" for i in range(12)))


def loss_matches_protonet(protonet_loss):
    own_work(protonet_loss, FORBIDDEN)
    task, encoder = _task_and_encoder()
    expected, _ = ml.methods.ProtoNet(encoder, 5).meta_loss(ml.tasks.stack([task]))
    torch.testing.assert_close(protonet_loss(encoder, task, 5), expected,
                               msg="the loss of a ProtoNet episode: prototypes from the support "
                                   "set, cross-entropy on the query set")


def matching_matches_attention(matching_log_probs):
    own_work(matching_log_probs, FORBIDDEN)
    task, _ = _task_and_encoder(1)
    support, query = task.support.x.flatten(1), task.query.x.flatten(1)
    expected = ml.methods.MatchingNetwork(torch.nn.Flatten(), 5).predict(task)
    torch.testing.assert_close(matching_log_probs(support, task.support.y, query, 5), expected,
                               msg="log of the attention-weighted labels, attention = softmax of "
                                   "cosine similarities over the support set")


def siamese_loss_is_binary_cross_entropy(siamese_loss):
    own_work(siamese_loss, FORBIDDEN)
    g = torch.Generator().manual_seed(2)
    logits, same = torch.randn(10, generator=g) * 3, (torch.rand(10, generator=g) > 0.5).float()
    torch.testing.assert_close(siamese_loss(logits, same),
                               F.binary_cross_entropy_with_logits(logits, same))


def one_shot_takes_the_most_similar(one_shot_predict):
    own_work(one_shot_predict, FORBIDDEN)
    g = torch.Generator().manual_seed(3)
    scores, labels = torch.randn(6, 5, generator=g), torch.randperm(5, generator=g)
    predicted = one_shot_predict(scores, labels)
    assert torch.equal(predicted, labels[scores.argmax(1)]), \
        "predict the label of the support image with the highest similarity logit"
