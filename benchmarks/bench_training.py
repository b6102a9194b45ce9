"""How fast is one epoch of LeNet-5 with the trainer (pre-decoded tensors, permutation
batches), against the usual torchvision.datasets.MNIST + ToTensor/Normalize + DataLoader
loop with the same model, optimizer, batch size and seed?

Both run in one process, alternating (the machine is noisy: compare the ratio, not the
absolute times); each round is one training epoch plus the test-set evaluation. Usage:

    MLSYS_MNIST_DIR=... .venv/bin/python benchmarks/bench_training.py [--rounds 2]
        [--batch-size 64] [--batches N] [--model lenet5]

--batches N limits each round to N training batches (a quicker, rougher comparison).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.training.data import FILES, find_files, load_mnist  # noqa: E402
from core.torchbridge.resolve import resolve_model  # noqa: E402
from core.training.trainer import TrainConfig, TrainedModel, run_to_end, train  # noqa: E402


def torchvision_root(data_dir: Path, tmp: Path) -> Path:
    """A folder in torchvision's MNIST/raw layout with uncompressed files (made once)."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for role, path in find_files(data_dir).items():
        target = raw / FILES[role]
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(path, target)
    return tmp


def usual_loop(network, root: Path, batch: int, lr: float, seed: int, limit: int | None):
    """The textbook PyTorch MNIST loop (per-item PIL → ToTensor → Normalize, DataLoader)."""
    import torch
    import torch.nn.functional as F
    from torchvision import datasets, transforms
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    test_set = datasets.MNIST(str(root), train=False, download=False, transform=transform)
    torch.manual_seed(seed)
    model = TrainedModel.from_network(network, seed).module
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch, shuffle=True)
    start = time.perf_counter()
    model.train()
    for step, (x, y) in enumerate(loader):
        if limit is not None and step >= limit:
            break
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test_set, batch_size=1000):
            correct += (model(x).argmax(1) == y).sum().item()
    return time.perf_counter() - start, correct / len(test_set)


def trainer(network, data, batch: int, lr: float, seed: int, limit: int | None):
    config = TrainConfig(optimizer="adam", lr=lr, batch_size=batch, epochs=1, seed=seed)
    steps = {"n": 0}

    def should_stop():
        return limit is not None and steps["n"] >= limit

    def count(event):
        if type(event).__name__ == "BatchEvent":
            steps["n"] += 1

    start = time.perf_counter()
    result = run_to_end(train(network, data, config, should_stop=should_stop), count)
    seconds = time.perf_counter() - start
    if limit is not None:  # stopped before evaluating: evaluate as the usual loop does
        t0 = time.perf_counter()
        accuracy = result.model.evaluate(data).accuracy
        seconds += time.perf_counter() - t0
    else:
        accuracy = result.epochs[-1].test_acc
    return seconds, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batches", type=int, default=None)
    parser.add_argument("--data", default=None, help="MNIST folder (default $MLSYS_MNIST_DIR)")
    args = parser.parse_args()

    import torch
    data = load_mnist(args.data)
    data.tensors("train"), data.tensors("test")  # one-time, like the datasets' own load
    network = resolve_model(args.model)
    print(f"{args.model} on {data.description}; batch {args.batch_size}, adam lr {args.lr}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    times = {"trainer": [], "usual": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(data.source, Path(tmp))
        for round_ in range(1, args.rounds + 1):
            for name in ("usual", "trainer"):
                run = usual_loop if name == "usual" else trainer
                source = root if name == "usual" else data
                seconds, acc = run(network, source, args.batch_size, args.lr, round_,
                                   args.batches)
                times[name].append(seconds)
                print(f"round {round_}  {name:8s} {seconds:7.2f} s   test acc {acc:.2%}",
                      flush=True)
    usual, ours = statistics.median(times["usual"]), statistics.median(times["trainer"])
    print(f"median: usual DataLoader loop {usual:.2f} s, trainer {ours:.2f} s; "
          f"trainer is {usual / ours:.2f}× faster")


if __name__ == "__main__":
    main()
