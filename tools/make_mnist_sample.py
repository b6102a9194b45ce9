"""Make the small real MNIST sample shipped in core/resources/mnist_sample/ from the full set.

Takes the first N train and first M test images (first-N, so the sample's provenance is
easy to check: its labels are the full set's first labels) and writes them as IDX .gz
files with the canonical names, so the same loader reads both. The gzip headers carry no
name or time, so running it again gives byte-identical files. Usage:

    .venv/bin/python tools/make_mnist_sample.py [--source DIR] [--train 3000] [--test 1000]

DIR defaults to $MLSYS_MNIST_DIR.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.training.data import FILES, SAMPLE_DIR, encode_idx, load_folder  # noqa: E402

README = """# Bundled MNIST sample

The first {train:,} training and first {test:,} test images of MNIST, with their labels, in
the original IDX format (gzip), made by `tools/make_mnist_sample.py` from the canonical
files. MLSys Studio trains on it when no MNIST folder is configured.

- train label counts 0..9: {train_counts}
- test label counts 0..9: {test_counts}
- first train labels: {first_train}; first test labels: {first_test}

MNIST database of handwritten digits, by Yann LeCun and Corinna Cortes (with
Christopher J.C. Burges), licensed under Creative Commons Attribution-Share Alike 3.0
(CC BY-SA 3.0); this subset is distributed under the same licence.
"""


def write_gz(path: Path, payload: bytes) -> None:
    buf = io.BytesIO()
    # No file name and mtime 0 in the header: reruns produce identical bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    path.write_bytes(buf.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MLSYS_MNIST_DIR"),
                        help="folder with the full MNIST (default: $MLSYS_MNIST_DIR)")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--out", default=str(SAMPLE_DIR))
    args = parser.parse_args()
    if not args.source:
        parser.error("give --source DIR or set MLSYS_MNIST_DIR")
    full = load_folder(args.source)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = {"train_images": full.train_images[:args.train],
             "train_labels": full.train_labels[:args.train],
             "test_images": full.test_images[:args.test],
             "test_labels": full.test_labels[:args.test]}
    for role, array in parts.items():
        write_gz(out / f"{FILES[role]}.gz", encode_idx(array))
    sample = load_folder(out)
    (out / "README.md").write_text(README.format(
        train=sample.train_size, test=sample.test_size,
        train_counts=sample.label_counts("train"), test_counts=sample.label_counts("test"),
        first_train=",".join(map(str, sample.train_labels[:10])),
        first_test=",".join(map(str, sample.test_labels[:10]))), encoding="utf-8")
    size = sum(p.stat().st_size for p in out.glob("*.gz"))
    print(f"wrote {sample.train_size:,}/{sample.test_size:,} images to {out} "
          f"({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
