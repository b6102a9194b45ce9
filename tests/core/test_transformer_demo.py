"""The training demo learns: greedy decoding of held-out digit sequences reaches the target
token accuracy on a tiny configuration; stop is honoured between steps."""

from __future__ import annotations

import pytest

from core.common.errors import InputError
from core.transformer.demo import (BatchEvent, DemoDone, DemoSettings, EvalEvent, greedy_decode,
                                   make_batch, train_demo)

TINY = dict(length=6, d_model=32, heads=2, ffn=64, batch=32, steps=400, lr=4e-3, eval_every=25,
            eval_size=200, target_accuracy=0.97)


@pytest.mark.parametrize("task", ["reverse", "copy"])
def test_demo_learns_the_task(task):
    events = list(train_demo(DemoSettings(task=task, **TINY)))
    done = events[-1]
    assert isinstance(done, DemoDone) and not done.stopped
    assert done.token_accuracy >= 0.97, done
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert evals[-1].token_accuracy == done.token_accuracy
    assert evals[0].token_accuracy < 0.97           # it had to learn it
    src, expected, decoded = evals[-1].example
    assert expected == (src[::-1] if task == "reverse" else src)
    steps = [e.step for e in events if isinstance(e, BatchEvent)]
    assert steps == list(range(1, done.step + 1))


def test_batches_are_the_task():
    import torch
    settings = DemoSettings(length=5)
    src, dec_in, target = make_batch(settings, 4, torch.Generator().manual_seed(3))
    assert torch.equal(target, src.flip(1))
    assert torch.equal(dec_in[:, 1:], target[:, :-1]) and (dec_in[:, 0] == 10).all()


def test_stop_is_honoured_between_steps():
    seen = []

    def stop():
        return len(seen) >= 3
    for event in train_demo(DemoSettings(**TINY), should_stop=stop):
        if isinstance(event, BatchEvent):
            seen.append(event)
        last = event
    assert isinstance(last, DemoDone) and last.stopped and last.step == 3


def test_greedy_decode_shape():
    import torch
    from core.transformer.model import EncoderDecoder
    settings = DemoSettings(**TINY)
    model = EncoderDecoder(settings.config()).eval()
    out = greedy_decode(model, torch.zeros(2, 6, dtype=torch.long), 6)
    assert out.shape == (2, 6) and int(out.max()) <= 10


@pytest.mark.parametrize("changes, words", [(dict(task="sort"), "reverse or copy"),
                                            (dict(steps=0), "steps"),
                                            (dict(d_model=30, heads=4), "not divisible"),
                                            (dict(steps=10**7), "limit")])
def test_bad_demo_settings(changes, words):
    with pytest.raises(InputError, match=words):
        DemoSettings(**changes)
