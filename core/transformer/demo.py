"""Make it run: train the encoder-decoder on a synthetic sequence task (copy or reverse a
sequence of digits) and watch the loss and the token accuracy (imports torch: import this
lazily).

``train_demo`` is a generator of typed events that checks ``should_stop`` (and
``should_pause``) between steps, so the GUI can run it in the Training workspace's worker
(a BatchEvent per step, an EvalEvent with greedy-decoding accuracy on held-out sequences
every ``eval_every`` steps, a DemoDone at the end).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.common.errors import InputError
from core.transformer.config import TransformerConfig

TASKS = ("reverse", "copy")
DIGITS = 10
BOS = DIGITS            # the decoder's start token
MAX_STEPS = 100_000


@dataclass(frozen=True)
class DemoSettings:
    task: str = "reverse"
    length: int = 10
    d_model: int = 64
    heads: int = 4
    ffn: int = 128
    layers: int = 1              # encoder layers = decoder layers
    batch: int = 64
    steps: int = 1500
    lr: float = 2e-3
    eval_every: int = 20
    eval_size: int = 500
    target_accuracy: float = 0.99   # stop once greedy token accuracy reaches it (≤ 1)
    seed: int = 0
    threads: int = 1

    def __post_init__(self):
        if self.task not in TASKS:
            raise InputError(f"task {self.task!r} is not allowed: choose reverse or copy")
        for name in ("length", "steps", "batch", "eval_every", "eval_size", "threads"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.steps > MAX_STEPS:
            raise InputError(f"steps {self.steps:,} is over the demo's limit of {MAX_STEPS:,} "
                             f"(core.transformer.demo.MAX_STEPS)")
        if not 0 < self.lr < 1:
            raise InputError(f"lr must be between 0 and 1, got {self.lr}")
        self.config()  # validates d_model, heads and the rest

    def config(self) -> TransformerConfig:
        return TransformerConfig(encoder_layers=self.layers, decoder_layers=self.layers,
                                 d_model=self.d_model, heads=self.heads, ffn=self.ffn,
                                 vocab=DIGITS + 1, src_len=self.length, tgt_len=self.length,
                                 batch=self.batch, precision="fp32", norm="pre")


@dataclass(frozen=True)
class BatchEvent:
    """One optimisation step (named as the Training worker's coalesced progress events)."""
    step: int
    steps: int
    loss: float
    token_accuracy: float        # teacher-forced, this batch
    elapsed: float


@dataclass(frozen=True)
class EvalEvent:
    step: int
    token_accuracy: float        # greedy decoding on held-out sequences
    sequence_accuracy: float     # whole sequences right
    elapsed: float
    example: tuple[str, str, str]   # source, expected, decoded


@dataclass(frozen=True)
class DemoDone:
    step: int
    token_accuracy: float
    sequence_accuracy: float
    elapsed: float
    stopped: bool                # by the user (else by steps or the target accuracy)


def make_batch(settings: DemoSettings, n: int, generator):
    """(source digits, decoder input starting with BOS, target) for n sequences."""
    import torch
    src = torch.randint(DIGITS, (n, settings.length), generator=generator)
    target = src.flip(1) if settings.task == "reverse" else src.clone()
    dec_in = torch.cat([torch.full((n, 1), BOS), target[:, :-1]], dim=1)
    return src, dec_in, target


def greedy_decode(model, src, length: int):
    """Decode ``length`` tokens one at a time, each step feeding back the argmax."""
    import torch
    out = torch.full((src.shape[0], 1), BOS)
    with torch.inference_mode():
        for _ in range(length):
            logits = model.logits(src, out)
            out = torch.cat([out, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return out[:, 1:]


def train_demo(settings: DemoSettings, should_stop=lambda: False, should_pause=lambda: False):
    """Train and yield BatchEvent / EvalEvent / DemoDone (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    from core.transformer.model import EncoderDecoder, check_run_size
    cfg = settings.config()
    check_run_size(cfg, training=True)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        torch.manual_seed(settings.seed)
        model = EncoderDecoder(cfg).train()
        optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr, betas=(0.9, 0.98))
        gen = torch.Generator().manual_seed(settings.seed)
        held_out = make_batch(settings, settings.eval_size,
                              torch.Generator().manual_seed(settings.seed + 1))
        elapsed, started = 0.0, time.perf_counter()
        token_acc = seq_acc = 0.0
        step = 0
        while step < settings.steps:
            if should_stop():
                break
            if should_pause():
                elapsed += time.perf_counter() - started
                time.sleep(0.05)
                started = time.perf_counter()
                continue
            step += 1
            src, dec_in, target = make_batch(settings, settings.batch, gen)
            logits = model.logits(src, dec_in)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            batch_acc = (logits.argmax(-1) == target).float().mean().item()
            now = elapsed + time.perf_counter() - started
            yield BatchEvent(step, settings.steps, loss.item(), batch_acc, now)
            if step % settings.eval_every == 0 or step == settings.steps:
                token_acc, seq_acc, example = evaluate(model, settings, held_out)
                yield EvalEvent(step, token_acc, seq_acc,
                                elapsed + time.perf_counter() - started, example)
                if token_acc >= settings.target_accuracy:
                    break
        stopped = should_stop()
        yield DemoDone(step, token_acc, seq_acc, elapsed + time.perf_counter() - started,
                       stopped)
    finally:
        torch.set_num_threads(previous_threads)


def evaluate(model, settings: DemoSettings, held_out):
    """Greedy-decoding token and sequence accuracy on the held-out sequences."""
    src, _, target = held_out
    model.eval()
    decoded = greedy_decode(model, src, settings.length)
    model.train()
    right = decoded == target
    example = tuple("".join(str(int(d)) for d in row)
                    for row in (src[0], target[0], decoded[0]))
    return right.float().mean().item(), right.all(1).float().mean().item(), example
