"""MNIST loading: layouts, the bundled sample and its provenance, the full set's label
counts, corrupt files, input shapes, and the download's failure message."""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from core.training import data as mnist
from core.training.data import FILES, DatasetError, encode_idx, load_folder, load_mnist, load_sample
from mnist_files import write_set

ROOT = Path(__file__).resolve().parents[2]
FULL_DIR = os.environ.get(mnist.ENV_VAR)
needs_full = pytest.mark.skipif(not FULL_DIR, reason=f"{mnist.ENV_VAR} is not set (CI sets it "
                                                     f"to ../shared/data/mnist)")
FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def fresh_cache():
    mnist.clear_cache()
    yield
    mnist.clear_cache()


# -- the bundled sample ------------------------------------------------------------------
def test_sample_is_bundled_small_and_says_what_it_is():
    sample = load_sample()
    assert sample.kind == "sample"
    assert sample.description == "bundled sample (3,000/1,000)"
    assert sample.train_images.shape == (3000, 28, 28) and sample.train_images.dtype == np.uint8
    assert sample.test_images.shape == (1000, 28, 28)
    assert sample.train_labels.tolist()[:10] == FIRST_TRAIN_LABELS
    assert sample.test_labels.tolist()[:10] == FIRST_TEST_LABELS
    assert min(sample.label_counts("train")) > 200  # every digit well represented
    size = sum(p.stat().st_size for p in mnist.SAMPLE_DIR.glob("*.gz"))
    assert size < 2_000_000


def test_without_a_folder_the_sample_is_used(monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    assert load_mnist().kind == "sample"


def test_environment_variable_chooses_the_folder(monkeypatch, tmp_path):
    folder = write_set(tmp_path / "m", load_sample())
    monkeypatch.setenv(mnist.ENV_VAR, str(folder))
    data = load_mnist()
    assert data.kind == "custom"
    assert data.description == f"MNIST-format data (200/100) from {folder}"


def test_product_code_does_not_name_the_shared_folder():
    training = ROOT / "core" / "training"
    for path in (training / "data.py", training / "trainer.py", ROOT / "core" / "cli" / "train.py"):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/shared" not in text \
            and "shared/data" not in text, path


def test_decoding_needs_no_torch():
    code = ("import sys; from core.training.data import load_sample; d = load_sample(); "
            "print('torch' in sys.modules, d.train_size)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.stdout.split() == ["False", "3000"], out.stderr


# -- the full set (CI points MLSYS_MNIST_DIR at it) ---------------------------------------
@needs_full
def test_full_set_matches_its_readme():
    full = load_folder(FULL_DIR)
    assert full.kind == "full"
    assert full.description == f"MNIST (full, 60,000/10,000) from {Path(FULL_DIR)}"
    assert full.label_counts("train") == TRAIN_COUNTS
    assert full.label_counts("test") == TEST_COUNTS
    assert full.train_labels[:10].tolist() == FIRST_TRAIN_LABELS
    assert full.test_labels[:10].tolist() == FIRST_TEST_LABELS
    assert full.train_images.max() == 255
    assert full.train_images.mean() == pytest.approx(33.318, abs=1e-3)


@needs_full
def test_sample_is_the_first_images_of_the_full_set():
    full, sample = load_folder(FULL_DIR), load_sample()
    assert np.array_equal(sample.train_images, full.train_images[:3000])
    assert np.array_equal(sample.train_labels, full.train_labels[:3000])
    assert np.array_equal(sample.test_images, full.test_images[:1000])
    assert np.array_equal(sample.test_labels, full.test_labels[:1000])


@needs_full
def test_sample_tool_rebuilds_the_committed_files(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_mnist_sample",
                                                  ROOT / "tools" / "make_mnist_sample.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, "argv", ["make_mnist_sample", "--source", FULL_DIR,
                                      "--out", str(tmp_path)])
    assert tool.main() == 0
    for name in [f"{stem}.gz" for stem in FILES.values()] + ["README.md"]:
        assert (tmp_path / name).read_bytes() == (mnist.SAMPLE_DIR / name).read_bytes(), name


@needs_full
def test_second_load_comes_from_memory():
    first = load_folder(FULL_DIR)
    start = time.perf_counter()
    again = load_folder(FULL_DIR)
    assert again is first
    assert time.perf_counter() - start < 0.05


# -- layouts -----------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["gz", "raw", "torchvision", "dotted"])
def test_accepted_layouts(tmp_path, layout):
    sample = load_sample()
    if layout == "gz":
        write_set(tmp_path, sample)
    elif layout == "raw":
        write_set(tmp_path, sample, gz=False)
    elif layout == "torchvision":  # what torchvision.datasets.MNIST leaves behind
        write_set(tmp_path / "MNIST" / "raw", sample)
        write_set(tmp_path / "MNIST" / "raw", sample, gz=False)
    else:
        write_set(tmp_path, sample, gz=False, spelling=lambda s: s.replace("-idx", ".idx"))
    data = load_folder(tmp_path)
    assert (data.train_size, data.test_size) == (200, 100)
    assert np.array_equal(data.train_images, sample.train_images[:200])


def test_tensors_are_normalised_and_padded_for_32x32():
    sample = load_sample()
    x28, y = sample.tensors("train", 28)
    x32, _ = sample.tensors("train", 32)
    assert x28.shape == (3000, 1, 28, 28) and x32.shape == (3000, 1, 32, 32)
    assert str(y.dtype) == "torch.int64"
    expected = (sample.train_images[0].astype(np.float32) / 255 - 0.1307) / 0.3081
    assert np.allclose(x28[0, 0].numpy(), expected, atol=1e-5)
    assert np.allclose(x32[:, :, 2:30, 2:30].numpy(), x28.numpy())
    background = (0 - 0.1307) / 0.3081
    assert np.allclose(x32[:, :, :2].numpy(), background)
    assert np.allclose(x32[:, :, :, 30:].numpy(), background)
    assert sample.tensors("train", 28)[0] is x28  # made once


def test_tensor_statistics_are_mnists():
    x, _ = load_sample().tensors("train")
    assert float(x.mean()) == pytest.approx(0.0, abs=0.05)
    assert float(x.std()) == pytest.approx(1.0, abs=0.05)


# -- input shapes --------------------------------------------------------------------------
@pytest.mark.parametrize("shape, expected", [((1, 28, 28), (28, False)),
                                             ((1, 32, 32), (32, False)),
                                             ((784,), (28, True))])
def test_accepted_input_shapes(shape, expected):
    assert mnist.input_layout(shape) == expected


@pytest.mark.parametrize("shape, text", [((3, 32, 32), "3×32×32"), ((1, 64, 64), "1×64×64"),
                                         ((28, 28), "28×28")])
def test_other_input_shapes_are_refused_naming_the_shape(shape, text):
    with pytest.raises(DatasetError, match=f"net's input is {text}; MNIST training needs"):
        mnist.input_layout(shape, "net")


# -- broken files ----------------------------------------------------------------------------
def test_truncated_gz_names_the_file(tmp_path):
    write_set(tmp_path, load_sample())
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: the gzip file is "
                                           r"truncated"):
        load_folder(tmp_path)


def test_not_gzip_names_the_file(tmp_path):
    write_set(tmp_path, load_sample())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: not a valid gzip"):
        load_folder(tmp_path)


def test_wrong_magic_names_the_file(tmp_path):
    sample = load_sample()
    write_set(tmp_path, sample)
    # labels where images belong: magic 0x801 instead of 0x803
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(encode_idx(sample.test_labels[:100].astype(np.uint8))))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz: wrong magic number "
                                           r"0x00000801 for MNIST images \(expected "
                                           r"0x00000803\)"):
        load_folder(tmp_path)


def test_truncated_body_names_the_file(tmp_path):
    write_set(tmp_path, load_sample(), gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: truncated or padded: the "
                                           r"header says 200×28×28 = 156,800 bytes of images, "
                                           r"the file has 156,700"):
        load_folder(tmp_path)


def test_images_and_labels_disagreeing_names_both_files(tmp_path):
    sample = load_sample()
    write_set(tmp_path, sample)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(encode_idx(sample.train_labels[:150].astype(np.uint8))))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz has 200 images but "
                                           r".*train-labels-idx1-ubyte\.gz has 150 labels"):
        load_folder(tmp_path)


def test_missing_file_is_named(tmp_path):
    write_set(tmp_path, load_sample())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"file t10k-labels-idx1-ubyte\.gz is missing"):
        load_folder(tmp_path)


def test_empty_or_absent_folder(tmp_path):
    with pytest.raises(DatasetError, match="no MNIST files in"):
        load_folder(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_folder(tmp_path / "nowhere")


def test_bad_label_value_is_refused(tmp_path):
    sample = load_sample()
    write_set(tmp_path, sample)
    labels = sample.test_labels[:100].astype(np.uint8).copy()
    labels[7] = 12
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(labels)))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: label 12 found"):
        load_folder(tmp_path)


# -- download ------------------------------------------------------------------------------
def test_download_failure_says_what_to_do(tmp_path, monkeypatch):
    def offline(url, target, md5, should_stop):
        raise URLError("Name or service not known")
        yield  # a generator, as the real one
    monkeypatch.setattr(mnist, "_download_file", offline)
    calls = []
    with pytest.raises(DatasetError) as info:
        mnist.download_mnist(tmp_path, progress=lambda *a: calls.append(a))
    assert str(info.value).startswith("cannot download MNIST: ")
    assert "Name or service not known" in str(info.value)
    assert str(info.value).endswith("put the four .gz files in a folder and choose it")
    assert calls and calls[0][:2] == (0, 4)


def test_download_reports_progress_and_loads(tmp_path, monkeypatch):
    def fake(url, target, md5, should_stop):  # a mirror that serves the bundled sample
        shutil.copyfile(mnist.SAMPLE_DIR / Path(target).name, target)
        yield 1, 1
    monkeypatch.setattr(mnist, "_download_file", fake)
    calls = []
    data = mnist.download_mnist(tmp_path, progress=lambda *a: calls.append(a))
    assert (data.train_size, data.test_size) == (3000, 1000)
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    assert [c[:2] for c in calls] == [(0, 4), (1, 4), (1, 4), (2, 4), (2, 4), (3, 4), (3, 4),
                                      (4, 4)]


def _sample_mirror(tmp_path) -> tuple[str, dict]:
    """A file:// mirror holding the bundled sample, and its files' md5s."""
    import hashlib
    mirror = tmp_path / "mirror"
    shutil.copytree(mnist.SAMPLE_DIR, mirror)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in mirror.glob("*.gz")}
    return mirror.as_uri() + "/", md5


def test_download_steps_streams_bytes_checks_md5_and_loads(tmp_path, monkeypatch):
    url, md5 = _sample_mirror(tmp_path)
    monkeypatch.setattr(mnist, "_mnist_sources",
                        lambda: (["http://unreachable.invalid/"], list(md5.items())))
    monkeypatch.setattr(mnist, "CHUNK_BYTES", 4096)
    steps = list(mnist.download_steps(tmp_path / "data", mirrors=[url]))
    data = steps[-1]
    assert isinstance(data, mnist.MnistData) and (data.train_size, data.test_size) == (3000, 1000)
    progress = steps[:-1]
    big = max(md5, key=lambda name: (tmp_path / "mirror" / name).stat().st_size)
    chunks = [p for p in progress if p.filename == big and p.done_bytes]
    size = (tmp_path / "mirror" / big).stat().st_size
    assert len(chunks) == -(-size // 4096) and chunks[-1].done_bytes == size
    assert all(p.total_bytes == size for p in chunks)
    assert progress[-1].files_done == 4
    assert not list((tmp_path / "data" / "MNIST" / "raw").glob("*.part"))


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    url, md5 = _sample_mirror(tmp_path)
    bad = {name: "0" * 32 for name in md5}
    monkeypatch.setattr(mnist, "_mnist_sources", lambda: ([url], list(bad.items())))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        list(mnist.download_steps(tmp_path / "data"))
    assert not list((tmp_path / "data" / "MNIST" / "raw").iterdir())


def test_download_stop_ends_quietly_without_partial_files(tmp_path, monkeypatch):
    url, md5 = _sample_mirror(tmp_path)
    monkeypatch.setattr(mnist, "_mnist_sources", lambda: ([url], list(md5.items())))
    monkeypatch.setattr(mnist, "CHUNK_BYTES", 1024)
    seen = []

    def stop_after_some_bytes():
        return len(seen) > 3
    for step in mnist.download_steps(tmp_path / "data", should_stop=stop_after_some_bytes):
        seen.append(step)
    assert not any(isinstance(s, mnist.MnistData) for s in seen)
    assert not list((tmp_path / "data" / "MNIST" / "raw").iterdir())
