"""Scoring windows with a network, and relabelling by a frozen teacher.

The teacher of both baselines (Dinkel et al.'s machine annotator, Fonseca et al.'s skeptical teacher) is
trained first, then frozen: :func:`freeze` puts it in eval mode (dropout off, batch-norm running statistics
used and never updated) and turns off gradients of its parameters; :func:`relabel` scores windows with it
under ``torch.inference_mode``. Its soft labels are computed once, before the student trains (the public
PSL code recomputes them every batch with the teacher in eval mode and no augmentation, which gives the same
values).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wlbench_baselines.teacher_student.windows import Windows


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad = False`` on every parameter; returns ``module``."""
    module.eval()
    module.requires_grad_(False)
    return module


def window_scores(model: nn.Module, x: np.ndarray, windows: Windows, *, batch_size: int,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """Clip-level outputs (M, C) float32 of ``model`` on every window of ``x`` (N, T, F), in window order.

    ``model(inputs)`` must return ``(clip_scores, ...)`` or clip scores. The model's mode is left as it is
    (call :func:`freeze` or ``model.eval()`` first); no gradient is recorded."""
    out: np.ndarray | None = None
    with torch.inference_mode():
        for index in windows.batches(batch_size):
            inputs = torch.from_numpy(np.ascontiguousarray(windows.gather(x, index), dtype=np.float32))
            result = model(inputs.to(device))
            scores = (result[0] if isinstance(result, tuple) else result).float().cpu().numpy()
            if out is None:
                out = np.empty((len(windows), scores.shape[1]), dtype=np.float32)
            out[index] = scores
    if out is None:
        raise ValueError("no window to score")
    return out


def relabel(teacher: nn.Module, x: np.ndarray, windows: Windows, *, batch_size: int,
            device: torch.device | str = "cpu") -> np.ndarray:
    """Soft labels (M, C) in [0, 1] of every window by the frozen teacher (frozen here if it was not)."""
    return window_scores(freeze(teacher), x, windows, batch_size=batch_size, device=device)
