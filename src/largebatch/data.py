"""Datasets (in-memory tensors or an ImageNet folder) and the one-permutation-per-epoch sampler.

Small datasets live on the training device as tensors, so a step is one index_select, with no
per-sample Python. Every rank draws the same permutation of the training set each epoch and takes
its own slice of every global batch (Goyal et al., arXiv 1706.02677, Remark 4); the sampler is a
pure function of (seed, step), so its state in a checkpoint is just the step.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .registry import Registry

FMNIST_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.cache/largebatch/fashion-mnist")
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530
SUBSET_SEED = 1234  # training subsets of size N are prefixes of one fixed permutation: they nest


class DataError(RuntimeError):
    """A dataset that cannot be found or read; the message says how to get it."""


@dataclass
class TensorData:
    """A train/test split held as tensors (x float, y int64) on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def in_shape(self) -> tuple:
        if isinstance(self.x_train, FolderImages):
            return (3, 224, 224)
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> TensorData:
        """Tensors move to `device`; lazily decoded folder images stay on the host (moved per batch)."""
        mv = lambda t: t.to(device) if isinstance(t, torch.Tensor) else t  # noqa: E731
        return TensorData(
            *(mv(t) for t in (self.x_train, self.y_train, self.x_test, self.y_test)), self.num_classes
        )


def _read_idx(path: Path) -> np.ndarray:
    """An IDX (MNIST-format) gzip file as uint8; a missing, corrupt or truncated file raises DataError."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or not 1 <= raw[3] <= 4:
            raise ValueError("not an IDX uint8 file")
        ndim = raw[3]
        dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    except (OSError, EOFError, ValueError, zlib.error) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise DataError(
            f"{path} is missing, corrupt or truncated ({why}); delete it and reinstall it "
            "(`sudo apt-get install --reinstall dataset-fashion-mnist`), or pass --data_dir=DIR with intact "
            "IDX .gz files"
        ) from None


def find_fashion_mnist(data_dir: str = "") -> Path | None:
    cands = [data_dir] if data_dir else [os.environ.get("LARGEBATCH_DATA", "")] + list(FMNIST_DIRS)
    for c in cands:
        if c and (Path(c).expanduser() / "train-images-idx3-ubyte.gz").exists():
            return Path(c).expanduser()
        if c and (Path(c).expanduser() / "FashionMNIST/raw/train-images-idx3-ubyte.gz").exists():
            return Path(c).expanduser() / "FashionMNIST/raw"
    return None


@functools.lru_cache(maxsize=2)
def load_fashion_mnist(data_dir: str = "", download: bool = True) -> TensorData:
    """Fashion-MNIST 60k/10k as normalised float tensors (N, 1, 28, 28).

    Looks in `data_dir` if given, else in $LARGEBATCH_DATA, Debian's /usr/share/datasets/fashion-mnist
    and ~/.cache/largebatch; otherwise tries torchvision's download into data_dir (or that cache),
    unless $LARGEBATCH_OFFLINE is set.
    """
    root = find_fashion_mnist(data_dir)
    if root is None and download and not os.environ.get("LARGEBATCH_OFFLINE"):
        try:
            from torchvision.datasets import FashionMNIST

            cache = Path(data_dir or Path(FMNIST_DIRS[1]).expanduser().parent)
            FashionMNIST(str(cache), train=True, download=True)
            FashionMNIST(str(cache), train=False, download=True)
            root = find_fashion_mnist(str(cache))
        except Exception:  # offline, or the mirror is down: fall through to the clear error
            root = None
    if root is None:
        where = data_dir or FMNIST_DIRS[0]
        raise DataError(
            f"Fashion-MNIST not found (looked in {where}); install it with "
            "`sudo apt-get install dataset-fashion-mnist`, or pass --data_dir=DIR holding the IDX .gz files"
        )

    def img(name):
        a = torch.from_numpy(_read_idx(root / name).copy()).float().div_(255)
        return a.sub_(FMNIST_MEAN).div_(FMNIST_STD).unsqueeze(1)

    def lab(name):
        return torch.from_numpy(_read_idx(root / name).astype(np.int64))

    d = TensorData(
        img("train-images-idx3-ubyte.gz"),
        lab("train-labels-idx1-ubyte.gz"),
        img("t10k-images-idx3-ubyte.gz"),
        lab("t10k-labels-idx1-ubyte.gz"),
        10,
    )
    for split, x, y in (("train", d.x_train, d.y_train), ("t10k", d.x_test, d.y_test)):
        if len(x) != len(y) or (len(y) and int(y.max()) >= 10):
            raise DataError(
                f"{root}: the {split} images ({len(x)}) and labels ({len(y)}) do not match; "
                "reinstall the dataset or pass --data_dir=DIR with an intact copy"
            )
    return d


@functools.lru_cache(maxsize=2)
def load_mnist1d(num_samples: int = 10000, seed: int = 42) -> TensorData:
    """MNIST-1D (Greydanus, arXiv 2011.14439) generated locally; never its downloader."""
    try:
        import mnist1d.data as m1d
    except ImportError:
        raise DataError("MNIST-1D needs the mnist1d package: `pip install mnist1d`") from None

    args = m1d.get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    d = m1d.make_dataset(args)
    f = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32).unsqueeze(1)  # noqa: E731
    i = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.int64)  # noqa: E731
    return TensorData(f(d["x"]), i(d["y"]), f(d["x_test"]), i(d["y_test"]), 10)


CIFAR10_DIRS = ("~/.cache/largebatch/cifar10", "/usr/share/datasets/cifar10")
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def find_cifar10(data_dir: str = "") -> Path | None:
    """The directory holding CIFAR-10's python batches (data_batch_1..5, test_batch), or None."""
    cands = [data_dir] if data_dir else [os.environ.get("LARGEBATCH_DATA", "")] + list(CIFAR10_DIRS)
    for c in filter(None, cands):
        for d in (Path(c).expanduser(), Path(c).expanduser() / "cifar-10-batches-py"):
            if (d / "test_batch").is_file():
                return d
    return None


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR batch: images (n, 3, 32, 32) uint8 and labels (n,)."""
    import pickle

    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d[b"labels"], dtype=np.int64)
        if len(x) != len(y) or (len(y) and (y.min() < 0 or y.max() >= 10)):
            raise ValueError(f"{len(x)} images, {len(y)} labels")
        return x, y
    except (OSError, EOFError, ValueError, KeyError, TypeError, pickle.UnpicklingError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise DataError(
            f"{path} is missing, corrupt or truncated ({why}); unpack cifar-10-python.tar.gz again into "
            "--data_dir=DIR"
        ) from None


@functools.lru_cache(maxsize=2)
def load_cifar10(data_dir: str = "") -> TensorData:
    """CIFAR-10 50k/10k from its python batches (data_batch_1..5, test_batch), normalised per channel.

    Looks in `data_dir` (or its cifar-10-batches-py/), else $LARGEBATCH_DATA and ~/.cache/largebatch/cifar10;
    never downloads (unpack CIFAR-10's python version, cifar-10-python.tar.gz, there yourself).
    """
    root = find_cifar10(data_dir)
    if root is None:
        raise DataError(
            f"CIFAR-10 not found (looked in {data_dir or CIFAR10_DIRS[0]}); unpack cifar-10-python.tar.gz "
            "and pass --data_dir=DIR holding data_batch_1..5 and test_batch"
        )
    parts = [_cifar_batch(root / name) for name in CIFAR10_FILES]
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)

    def img(arrays):
        return torch.from_numpy(np.concatenate(arrays)).float().div_(255).sub_(mean).div_(std)

    return TensorData(
        img([x for x, _ in parts[:5]]),
        torch.from_numpy(np.concatenate([y for _, y in parts[:5]])),
        img([parts[5][0]]),
        torch.from_numpy(parts[5][1]),
        10,
    )


def make_synthetic(n: int, shape: tuple, num_classes: int, seed: int = 0) -> TensorData:
    """Random inputs with random labels, for throughput and smoke tests."""
    g = torch.Generator().manual_seed(seed)
    n_test = max(n // 4, 1)
    return TensorData(
        torch.randn(n, *shape, generator=g),
        torch.randint(0, num_classes, (n,), generator=g),
        torch.randn(n_test, *shape, generator=g),
        torch.randint(0, num_classes, (n_test,), generator=g),
        num_classes,
    )


def subset(data: TensorData, n_train: int = 0, n_test: int = 0) -> TensorData:
    """Nested training subset of size n_train (prefix of a fixed permutation); first n_test tests."""
    x, y = data.x_train, data.y_train
    if 0 < n_train < len(y):
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(SUBSET_SEED))[:n_train]
        x, y = x[idx], y[idx]
    xt, yt = data.x_test, data.y_test
    if 0 < n_test < len(yt):
        xt, yt = xt[:n_test], yt[:n_test]
    return TensorData(x, y, xt, yt, data.num_classes)


def imagenet_folder(root: str, train: bool = True):
    """torchvision ImageFolder with Goyal's augmentation (scale+aspect crop 224, flip, normalise)."""
    from torchvision import datasets
    from torchvision import transforms as T

    norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    tf = (
        T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
        if train
        else T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), norm])
    )
    sub = Path(root) / ("train" if train else "val")
    if not sub.is_dir():
        raise DataError(f"ImageNet folder {sub} not found; pass --data_dir=DIR with train/ and val/")
    return datasets.ImageFolder(str(sub), tf)


class FolderImages:
    """Lazy `x[idx]` over a torchvision folder dataset: decodes the indexed images on a thread pool.

    Lets folder data (ImageNet at paper scale) stand where the trainer indexes in-memory tensors. PIL
    decoding releases the GIL, so threads scale; for many GPUs per node a dedicated loader (DALI, or
    DataLoader workers) will be faster — this path favours one code path over peak throughput.
    """

    def __init__(self, ds, index=None, threads: int = 16):
        self.ds, self.index, self.threads, self._pool = ds, index, threads, None

    def __len__(self):
        return len(self.ds) if self.index is None else len(self.index)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            rng = range(len(self))[idx]
            return FolderImages(self.ds, [self._map(i) for i in rng], self.threads)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads)
        ids = [self._map(int(i)) for i in idx]
        return torch.stack(list(self._pool.map(lambda i: self.ds[i][0], ids)))

    def _map(self, i: int) -> int:
        return i if self.index is None else self.index[i]


def folder_data(train_ds, val_ds) -> TensorData:
    """A TensorData whose images are FolderImages (labels are real tensors)."""
    return TensorData(
        FolderImages(train_ds),
        torch.as_tensor(train_ds.targets),
        FolderImages(val_ds),
        torch.as_tensor(val_ds.targets),
        len(train_ds.classes),
    )


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: `load(cfg)` -> TensorData (the whole set; `load` below takes subsets) and
    `train_size(cfg)`, its training-set size in examples without loading it (for --dry and resolve)."""

    load: Callable
    train_size: Callable


# name -> DatasetSpec; a study adds its own with @register_dataset in experiments/<study>/data.py
DATASETS = Registry("dataset", "data")


def register_dataset(name: str, train_size: int | Callable) -> Callable[[Callable], Callable]:
    """Decorator: register `fn(cfg) -> TensorData` as dataset `name` with `train_size` examples (an int, or a
    function of the config)."""

    def deco(fn: Callable) -> Callable:
        size = train_size if callable(train_size) else (lambda cfg, n=train_size: n)
        DATASETS[name] = DatasetSpec(fn, size)
        return fn

    return deco


@register_dataset("fashion_mnist", 60000)
def _fashion_mnist(cfg) -> TensorData:
    return load_fashion_mnist(cfg.data_dir)


@register_dataset("mnist1d", lambda cfg: int(cfg.mnist1d_examples * 0.8))
def _mnist1d(cfg) -> TensorData:
    return load_mnist1d(cfg.mnist1d_examples)


@register_dataset("synthetic", lambda cfg: cfg.synthetic_examples)
def _synthetic(cfg) -> TensorData:
    return make_synthetic(cfg.synthetic_examples, (1, 28, 28), cfg.num_classes or 10)


@register_dataset("synthetic_imagenet", lambda cfg: cfg.synthetic_examples)
def _synthetic_imagenet(cfg) -> TensorData:
    return make_synthetic(
        cfg.synthetic_examples, (3, cfg.image_size, cfg.image_size), cfg.num_classes or 1000
    )


@register_dataset("imagenet", 1281167)
def _imagenet(cfg) -> TensorData:
    return folder_data(imagenet_folder(cfg.data_dir, True), imagenet_folder(cfg.data_dir, False))


@register_dataset("cifar10", 50000)
def _cifar10(cfg) -> TensorData:
    return load_cifar10(cfg.data_dir)


def load(cfg) -> TensorData:
    """The dataset named by cfg.dataset (DATASETS), with the config's train/test subsets; folder data
    (ImageNet, lazily decoded images) is used whole."""
    d = DATASETS[cfg.dataset].load(cfg)
    if isinstance(d.x_train, FolderImages):
        return d
    return subset(d, cfg.train_examples, cfg.test_examples)


class EpochSampler:
    """One permutation of the N training examples per epoch, shared by all ranks.

    Step t of epoch e = t // S takes positions [(t mod S)·B, (t mod S + 1)·B) of permutation e as the
    global batch; rank r takes its contiguous share [r·b, (r+1)·b) with b = B / P, and inside a rank
    virtual worker j takes [j·n, (j+1)·n). So the same B examples form step t for any P.
    With `stream` (TrainConfig.equal_examples) the permutations are read as one stream instead: step t
    takes stream positions [t·B, (t+1)·B), a batch that crosses an epoch's end continuing into the next
    permutation, so no example of an epoch is dropped and every batch size sees the same examples per epoch.
    """

    def __init__(
        self, n: int, global_batch: int, rank: int, world_size: int, seed: int, stream: bool = False
    ):
        self.n, self.B, self.rank, self.P, self.seed = n, global_batch, rank, world_size, seed
        self.stream = stream
        self.steps_per_epoch = n // global_batch
        self.b = global_batch // world_size
        self._perms: dict[int, torch.Tensor] = {}

    def permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perms = {e: p for e, p in self._perms.items() if e == epoch - 1}  # keep at most two
            self._perms[epoch] = torch.randperm(self.n, generator=g)
        return self._perms[epoch]

    def global_indices(self, step: int) -> torch.Tensor:
        if self.stream:
            e, off = divmod(step * self.B, self.n)
            head = self.permutation(e)[off : off + self.B]
            if len(head) == self.B:
                return head
            return torch.cat([head, self.permutation(e + 1)[: self.B - len(head)]])
        e, i = divmod(step, self.steps_per_epoch)
        return self.permutation(e)[i * self.B : (i + 1) * self.B]

    def indices(self, step: int) -> torch.Tensor:
        """This rank's example indices for optimizer step `step`."""
        return self.global_indices(step)[self.rank * self.b : (self.rank + 1) * self.b]

    def state_dict(self, step: int) -> dict:
        if self.stream:  # position in examples of the epoch's permutation
            e, off = divmod(step * self.B, self.n)
            return {"seed": self.seed, "epoch": e, "position": off, "n": self.n, "global_batch": self.B}
        return {
            "seed": self.seed,
            "epoch": step // self.steps_per_epoch,
            "position": step % self.steps_per_epoch,
            "n": self.n,
            "global_batch": self.B,
        }
