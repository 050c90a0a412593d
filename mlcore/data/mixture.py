"""A mixture of task families (for ARML, Yao et al. 2020): each task comes from one of
several samplers, chosen at random; which one is returned as the task's parameters."""
import torch

from ..tasks import Sampler
from ..validation import require


class MixtureSampler(Sampler):
    """Tasks from `samplers[f]`, family f drawn with probability `weights[f]` (default equal).

    The families' tasks must have the same shapes to be stacked into one batch.
    """

    def __init__(self, samplers, weights=None, seed=0):
        samplers = list(samplers)
        require(len(samplers) >= 1, "samplers", samplers, "give at least one sampler")
        weights = torch.ones(len(samplers)) if weights is None else torch.as_tensor(
            weights, dtype=torch.float)
        require(len(weights) == len(samplers) and bool((weights >= 0).all())
                and weights.sum() > 0, "weights", weights.tolist(),
                f"give {len(samplers)} non-negative weights, not all zero")
        super().__init__(seed)
        self.samplers, self.weights = samplers, weights / weights.sum()

    def task(self, return_params=False):
        """One task; with `return_params`, also {"family": the index of its sampler}."""
        family = int(torch.multinomial(self.weights, 1, generator=self.generator))
        task = self.samplers[family].task()
        return (task, {"family": family}) if return_params else task

    def state_dict(self):
        return {**super().state_dict(), "families": [s.state_dict() for s in self.samplers]}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for sampler, family_state in zip(self.samplers, state["families"]):
            sampler.load_state_dict(family_state)
