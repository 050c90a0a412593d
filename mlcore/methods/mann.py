"""MANN — Meta-Learning with Memory-Augmented Neural Networks (Santoro, Bartunov, Botvinick,
Wierstra & Lillicrap, 2016).

Chapter: notebooks/04_mann.ipynb   Equations: section 3.1, reading by content (cosine
similarity, softmax read weights w^r, read vector r); section 3.2, least recently used
access (write weights w^w, usage w^u, least-used weights w^lu, memory update M_t).
Variants here: `memory=False`, the same LSTM controller without external memory (the
paper's LSTM baseline); with `recurrent=False` too, its state is reset at every step, which
makes it a feedforward network of (x_t, y_{t-1}) (the feedforward baseline);
`key_strength`, a fixed sharpness kappa of the read weights, softmax(kappa * cos), like the key
strength (beta there) of the Neural Turing Machine (Graves et al., 2014) that MANN builds on,
which its controller emits at every step (default: kappa = 1, as in the paper; learned as one
free parameter, kappa drifted down to diffuse reads in chapter 04's runs). Differs from the
paper in: inputs are flattened glyphs or a fixed encoding of them (the paper: 20x20 Omniglot,
rotated to make new classes); keys squashed by tanh; sigma(alpha) is one learned scalar per
read head (`write_gate`).
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..data.sequences import offset_labels, presentations
from ..train import accuracy
from ..validation import require


class MANN(nn.Module):
    """An LSTM controller with an external memory of `n_slots` rows of size `width`.

    At every step the controller reads (x_t, y_{t-1}, r_{t-1}) and emits one key per read
    head; the key is written to the least used slots or to the slots read last, then the
    memory is read by cosine similarity to the key. Episodes come from
    `ml.data.SequenceSampler`; `meta_loss` is the cross-entropy at every step.
    """

    def __init__(self, n_way, input_size=784, hidden=200, n_slots=128, width=40,
                 n_reads=4, gamma=0.95, memory=True, recurrent=True, key_strength=None):
        super().__init__()
        require(n_way >= 2, "n_way", n_way, "use at least 2 classes")
        require(1 <= n_reads <= n_slots, "n_reads", n_reads, f"use 1 to n_slots={n_slots}")
        self.n_way, self.n_slots, self.width, self.n_reads = n_way, n_slots, width, n_reads
        require(recurrent or not memory, "recurrent", recurrent,
                "a memory needs the recurrent controller; use recurrent=False with memory=False")
        self.gamma, self.memory, self.recurrent = gamma, memory, recurrent
        read_size = n_reads * width if memory else 0
        self.controller = nn.LSTMCell(input_size + n_way + read_size, hidden)
        self.key = nn.Linear(hidden, n_reads * width)
        # the paper's alpha: sigma(write_gate) of the write goes where the head read last
        self.write_gate = nn.Parameter(torch.zeros(n_reads))
        # the NTM's key strength (its beta, Graves '14): softmax(kappa * cos); None: kappa = 1
        self.kappa = 1.0 if key_strength is None else float(key_strength)
        self.output = nn.Linear(hidden + read_size, n_way)

    def forward(self, x, y, trace=None):
        """Logits for every step of episodes x (B, T, ...) with labels y (B, T).   (B, T, C)

        The label of step t enters at step t + 1 only. Pass a list as `trace` to receive
        the state after every step (read, write, usage and least-used weights, memory).
        """
        x, labels = x.flatten(2), offset_labels(y, self.n_way)
        state, logits = self.initial_state(x), []
        for t in range(x.shape[1]):
            step_logits, state = self.step(x[:, t], labels[:, t], state)
            logits.append(step_logits)
            if trace is not None:
                trace.append({name: value.detach() for name, value in state.items()})
        return torch.stack(logits, dim=1)

    def initial_state(self, x):
        """Zero controller state, empty memory, no usage; w^lu_0 marks the first n_reads slots."""
        zeros = x.new_zeros
        batch, hidden, heads = len(x), self.controller.hidden_size, self.n_reads
        return {"h": zeros(batch, hidden), "c": zeros(batch, hidden),
                "memory": zeros(batch, self.n_slots, self.width),
                "reads": zeros(batch, heads, self.width),
                "w_read": zeros(batch, heads, self.n_slots),
                "w_usage": zeros(batch, self.n_slots),
                "w_least_used": least_used(zeros(batch, self.n_slots), heads)}

    def step(self, x, label, state):
        """One time step: controller, write, read, usage, in the paper's order."""
        inputs = [x, label] + ([state["reads"].flatten(1)] if self.memory else [])
        previous = (state["h"], state["c"]) if self.recurrent else None  # None: zeros
        h, c = self.controller(torch.cat(inputs, dim=1), previous)
        if not self.memory:
            return self.output(h), {**state, "h": h, "c": c}
        key = torch.tanh(self.key(h)).view(-1, self.n_reads, self.width)  # (B, heads, width)
        gate = torch.sigmoid(self.write_gate)[:, None]                    # (heads, 1)
        w_write = gate * state["w_read"] + (1 - gate) * state["w_least_used"][:, None]
        memory = clear_least_used(state["memory"], state["w_usage"])
        memory = memory + w_write.transpose(1, 2) @ key           # M_t(i) += sum_h w^w(i) k_h
        similarity = cosine_similarity(key, memory)                    # (B, heads, n_slots)
        w_read = torch.softmax(self.kappa * similarity, dim=-1)
        reads = w_read @ memory                                         # (B, heads, width)
        w_usage = self.gamma * state["w_usage"] + w_read.sum(1) + w_write.sum(1)
        logits = self.output(torch.cat([h, reads.flatten(1)], dim=1))
        return logits, {"h": h, "c": c, "memory": memory, "reads": reads, "w_read": w_read,
                        "w_write": w_write, "w_usage": w_usage,
                        "w_least_used": least_used(w_usage, self.n_reads)}

    def meta_loss(self, batch):
        """Cross-entropy at every step of every episode; accuracy per presentation."""
        logits = self(batch.query.x, batch.query.y)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.query.y.flatten())
        correct = (logits.argmax(-1) == batch.query.y).float()
        seen = presentations(batch.query.y)
        metrics = {f"instance_{k}": correct[seen == k].mean() for k in (1, 2, 5, 10)
                   if (seen == k).any()}
        return loss, {"accuracy": accuracy(logits, batch.query.y), **metrics}

    def predict(self, task):
        """Logits for every step of one episode, its labels shown one step late.   (T, C)"""
        return self(task.query.x[None], task.query.y[None])[0]


def cosine_similarity(keys, memory):
    """K(k, M(i)) for every key and slot; an empty slot scores 0.   (B, heads, n_slots)"""
    return F.normalize(keys, dim=-1) @ F.normalize(memory, dim=-1).transpose(1, 2)


def least_used(w_usage, n):
    """w^lu: 1 on the n slots of smallest usage (ties broken by index), 0 elsewhere."""
    smallest = w_usage.sort(dim=-1, stable=True).indices[..., :n]
    return torch.zeros_like(w_usage).scatter(-1, smallest, 1.0)


def clear_least_used(memory, w_usage):
    """Set the slot of smallest usage to zero before writing (section 3.2)."""
    slot = F.one_hot(w_usage.argmin(-1), memory.shape[1]).to(memory.dtype)  # (B, n_slots)
    return memory * (1 - slot)[:, :, None]
