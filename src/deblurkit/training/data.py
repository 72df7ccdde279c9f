"""Training data: datasets from configs, a resumable (and distributed) batch order.

Data order is a pure function of ``(seed, epoch)``: epoch ``e`` visits the permutation
``numpy.random.default_rng([seed, DATA_ORDER_KEY, e]).permutation(n)`` in consecutive global
batches (the last, incomplete one is dropped). With ``K`` processes, global batch ``i`` is cut
into ``K`` equal slices and process ``r`` takes slice ``r``; so the union of what the processes
see at a step is exactly the batch a single process with the same global batch would see.
Augmentation is drawn per item from ``(seed, epoch, index)`` by the dataset. A checkpoint
therefore records only ``(epoch, batches done in that epoch)`` per data stream, and resuming
replays nothing and skips nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from deblurkit.errors import UserError
from deblurkit.training.config import DataConfig
from deblurkit.utils.seeding import child_seed

#: Extra key mixed into the data-order seed so it never equals an augmentation stream.
DATA_ORDER_KEY = 7
#: Seed-sequence key of the data loader's private generator (worker base seeds).
LOADER_KEY = 17


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The visiting order of ``n`` items in ``epoch``.

    Example:
        >>> epoch_permutation(5, 0, 1).tolist() == epoch_permutation(5, 0, 1).tolist()
        True
    """
    return np.random.default_rng([int(seed), DATA_ORDER_KEY, int(epoch)]).permutation(n)


class EpochBatchSampler(torch.utils.data.Sampler):
    """Batches of one epoch, starting at a given batch, sliced for one process.

    Args:
        n: dataset length.
        global_batch: items per step over all processes.
        seed: data-order seed.
        rank, world: this process and the number of processes (``global_batch`` must divide
            by ``world``).
        shuffle: False visits items in order (validation).

    Call :meth:`set_position` before iterating.
    """

    def __init__(self, n: int, global_batch: int, seed: int, rank: int = 0, world: int = 1,
                 shuffle: bool = True) -> None:
        if global_batch % world:
            raise UserError(f"global batch {global_batch} does not divide over {world} "
                            "processes")
        if n < global_batch:
            raise UserError(f"the dataset has {n} item(s), fewer than one global batch of "
                            f"{global_batch}")
        self.n, self.global_batch, self.seed = n, global_batch, seed
        self.rank, self.world, self.shuffle = rank, world, shuffle
        self.epoch, self.start = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.global_batch

    def set_position(self, epoch: int, start: int) -> None:
        """Iterate epoch ``epoch`` from its batch ``start``."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start

    def __iter__(self) -> Iterator[list[int]]:
        order = (epoch_permutation(self.n, self.seed, self.epoch) if self.shuffle
                 else np.arange(self.n))
        local = self.global_batch // self.world
        for b in range(self.start, self.batches_per_epoch):
            first = b * self.global_batch + self.rank * local
            yield order[first:first + local].tolist()


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; keep other fields as lists (paths, names, meta)."""
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out


def build_dataset(data: DataConfig, seed: int, train: bool) -> Dataset:
    """The dataset of one :class:`DataConfig`.

    ``layout: video`` gives a ``FrameLabelDataset`` in label mode (frame classifier);
    ``layout: online`` an :class:`~deblurkit.data.online.OnTheFlyPairs` (fresh realistic pairs
    from photographs and high-fps sequences, training only); anything else a ``PairedImageDataset`` over ``discover_pairs(layout, **args)``.
    Validation sets use centred crops and no flips.
    """
    from deblurkit.data import FrameLabelDataset, PairedImageDataset

    section: dict[str, Any] = {"layout": data.layout, **data.args,
                               "seed": data.seed if data.seed is not None else seed}
    if data.layout == "online":  # fresh pairs every sample; flips and rotations built in
        from deblurkit.data.online import OnTheFlyPairs

        if not train:
            raise UserError("the online layout makes training pairs; validate on fixed pairs "
                            "(deblurkit synth, make realval) with layout gopro or folder")
        dataset: Dataset = OnTheFlyPairs.from_config(
            {**section, "crop_size": data.crop_size if data.crop_size is not None else 256})
        return _LimitedDataset(dataset, data.limit) if data.limit else dataset
    if data.crop_size is not None:
        section["crop_size"] = data.crop_size
        section["random_crop"] = data.random_crop and train
    if train:
        section.update(hflip=data.hflip, vflip=data.vflip, rot90=data.rot90)
    if data.layout == "video":
        section.setdefault("mode", "label")
        section.setdefault("only_labelled", True)
        dataset = FrameLabelDataset.from_config(section)
    else:
        dataset = PairedImageDataset.from_config(section)
    if data.limit is not None and data.limit < len(dataset):
        dataset = _LimitedDataset(dataset, data.limit)
    return dataset


class _LimitedDataset(Subset):
    """The first ``limit`` items, forwarding ``set_epoch`` and ``describe``."""

    def __init__(self, dataset: Dataset, limit: int) -> None:
        super().__init__(dataset, range(limit))

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def describe(self) -> dict[str, Any]:
        out = dict(self.dataset.describe())
        out["limit"] = len(self.indices)
        return out


@dataclass
class DataStream:
    """An endless, resumable stream of training batches for one dataset.

    Attributes:
        epoch: the current epoch.
        position: batches already taken from the current epoch.
    """

    dataset: Dataset
    sampler: EpochBatchSampler
    workers: int
    epoch: int = 0
    position: int = 0

    def __post_init__(self) -> None:
        self._iterator: Iterator[dict[str, Any]] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return self.sampler.batches_per_epoch

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._iterator = None

    def _start_epoch(self) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        self.sampler.set_position(self.epoch, self.position)
        # A private generator: creating a loader iterator draws a base seed, which must not
        # come from (and shift) the global torch RNG that dropout uses, or a resume that
        # starts mid-epoch would diverge from the straight run.
        generator = torch.Generator().manual_seed(
            child_seed(self.sampler.seed, LOADER_KEY, self.epoch))
        loader = DataLoader(self.dataset, batch_sampler=self.sampler, num_workers=self.workers,
                            collate_fn=_collate, persistent_workers=False, generator=generator)
        self._iterator = iter(loader)

    def next(self) -> tuple[dict[str, Any], bool]:
        """The next batch, and whether it was the last of its epoch."""
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
            self._iterator = None
        if self._iterator is None:
            self._start_epoch()
        batch = next(self._iterator)
        self.position += 1
        return batch, self.position >= self.batches_per_epoch


def make_stream(data: DataConfig, seed: int, rank: int, world: int) -> DataStream:
    """A :class:`DataStream` over ``data`` with global batch ``batch_size * world``."""
    dataset = build_dataset(data, seed, train=True)
    sampler = EpochBatchSampler(len(dataset), data.batch_size * world,
                                data.seed if data.seed is not None else seed, rank, world)
    return DataStream(dataset, sampler, data.workers)


def make_val_loader(data: DataConfig, seed: int) -> DataLoader:
    """Validation batches in order (every item once), on one process."""
    dataset = build_dataset(data, seed, train=False)
    return DataLoader(dataset, batch_size=data.batch_size, shuffle=False,
                      num_workers=data.workers, collate_fn=_collate,
                      generator=torch.Generator().manual_seed(seed))


__all__ = ["DATA_ORDER_KEY", "DataStream", "EpochBatchSampler", "build_dataset",
           "epoch_permutation", "make_stream", "make_val_loader"]
