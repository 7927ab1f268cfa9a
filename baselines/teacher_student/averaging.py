"""Keeping the top-k checkpoints of a training run and averaging their weights (Dinkel et al., section 3.2:
"the top-4 checkpoints achieving the highest mAP ... are weight-averaged").

How each entry of a ``state_dict`` is averaged (:func:`average_states`):

* floating tensors (parameters, and batch-norm ``running_mean`` / ``running_var``): the arithmetic mean,
  accumulated in float64 and cast back to the tensor's dtype (the mean of identical tensors is the tensor
  itself, bit for bit). Batch-norm running statistics are averaged like weights; they are not re-estimated
  on data (as in the public PSL code).
* integer and boolean tensors (batch-norm ``num_batches_tracked``, any counter or index buffer): not
  averaged, copied from the **first** state, which is the best checkpoint when the states come best first
  (:meth:`TopK.states`). A mean of counters has no meaning (``num_batches_tracked`` only matters for
  batch norm with ``momentum=None``, where the best checkpoint's own count is the consistent choice). The
  public PSL script sums every tensor and divides only those with at least one dimension, so its 0-d
  ``num_batches_tracked`` (and any 0-d float parameter) ends up as the sum over checkpoints: not copied.

The states must have the same keys, shapes and dtypes (else ValueError naming the first mismatch).
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch


def average_states(states: Sequence[Mapping[str, torch.Tensor]]) -> OrderedDict[str, torch.Tensor]:
    """The weight average of ``states`` (see the module docstring); ``states[0]`` gives integer buffers."""
    if not states:
        raise ValueError("no checkpoint to average")
    first = states[0]
    for i, state in enumerate(states[1:], start=1):
        if list(state) != list(first):
            missing = sorted(set(first) ^ set(state))
            raise ValueError(f"checkpoint {i} has other entries than checkpoint 0 ({missing[:3] or 'order'})")
        for key, value in state.items():
            ref = first[key]
            if value.shape != ref.shape or value.dtype != ref.dtype:
                raise ValueError(f"checkpoint {i}: {key} is {tuple(value.shape)} {value.dtype}, checkpoint 0 "
                                 f"has {tuple(ref.shape)} {ref.dtype}")
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, ref in first.items():
        if ref.is_floating_point():
            total = torch.zeros(ref.shape, dtype=torch.float64, device=ref.device)
            for state in states:
                total += state[key].to(torch.float64)
            out[key] = (total / len(states)).to(ref.dtype)
        else:
            out[key] = ref.detach().clone()
    metadata = getattr(first, "_metadata", None)
    if metadata is not None:  # module versions, read by load_state_dict (e.g. batch norm)
        out._metadata = copy.deepcopy(metadata)  # type: ignore[attr-defined]
    return out


class TopK:
    """The ``k`` best states seen so far by a validation value (higher is better).

    ``offer(value, epoch, state)`` keeps a deep copy of ``state`` when it ranks among the ``k`` best; equal
    values rank by epoch (the earlier first), and a NaN value is never kept. ``states()`` / ``epochs()`` /
    ``values()`` list the kept ones best first."""

    def __init__(self, k: int) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)
        self._kept: list[tuple[float, int, dict]] = []

    def offer(self, value: float, epoch: int, state: Mapping[str, object]) -> bool:
        """Keep ``state`` if it is among the ``k`` best; returns whether it was kept."""
        value = float(value)
        if math.isnan(value):
            return False
        rank = sum(1 for v, e, _ in self._kept if v > value or (v == value and e <= epoch))
        if rank >= self.k:
            return False
        self._kept.insert(rank, (value, int(epoch), copy.deepcopy(dict(state))))
        del self._kept[self.k:]
        return True

    def __len__(self) -> int:
        return len(self._kept)

    def states(self) -> list[dict]:
        return [s for _, _, s in self._kept]

    def epochs(self) -> list[int]:
        return [e for _, e, _ in self._kept]

    def values(self) -> list[float]:
        return [v for v, _, _ in self._kept]
