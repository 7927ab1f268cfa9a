"""Pseudo-labelling by agreement of the two labelers F1 and F2 (Park et al. 2019, Algorithm 1).

The paper: a sample gets a pseudo-label "when both predictions of F1 and F2 are confident and agreed to
the same prediction", with the agreement threshold 0.5. For multi-label sigmoid outputs wlbench reads this
per (clip, class) and per (clip, frame, class) entry, with threshold tau in [0.5, 1):

* **agreement**: positive (1) when ``p1 > tau`` and ``p2 > tau``; negative (0) when ``p1 < 1 - tau`` and
  ``p2 < 1 - tau``; otherwise no pseudo-label. At tau = 0.5 this is "both binarised outputs agree" (an
  output of exactly 0.5 is never confident).

Both levels are pseudo-labelled, and a clip's known weak labels constrain its frames:

1. **clip level.** A (clip, class) whose weak label is known (W: all; a missing-label view may hide some)
   keeps it: W's clip labels are never replaced. Where the weak label is unknown (U), the clip-level
   agreement of F1's and F2's clip scores decides.
2. **frame level**, given the clip-level label of step 1:
   - clip label 0 (known or pseudo): every frame of the class is a negative (a class absent from a clip is
     absent from all its frames);
   - clip label 1: each frame gets the frame-level agreement of F1's and F2's frame scores; if no frame is
     an agreed positive, the weak label and the labelers contradict each other and the (clip, class) gets
     no frame pseudo-labels at all;
   - no clip label: no frame pseudo-labels.

So W contributes frame pseudo-labels (W_psl: the boundaries its weak labels lack) and U contributes clip and
frame pseudo-labels (U_psl) under one rule. The true labels are never read here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PseudoLabels:
    """``clip`` (N, C) uint8 and ``clip_known`` (N, C) bool; ``frame`` (N, T, C) uint8 and ``frame_known``
    (N, T, C) bool. ``clip_known`` includes the given weak labels; ``clip_pseudo`` (N, C) bool marks the
    entries decided by agreement."""

    clip: np.ndarray
    clip_known: np.ndarray
    clip_pseudo: np.ndarray
    frame: np.ndarray
    frame_known: np.ndarray

    def counts(self) -> dict[str, int]:
        """Numbers of pseudo-labels: clip-level (by agreement), frame-level entries, and positives of each."""
        return {"clip": int(self.clip_pseudo.sum()), "clip_positive": int((self.clip_pseudo & (self.clip == 1)).sum()),
                "frame": int(self.frame_known.sum()),
                "frame_positive": int((self.frame_known & (self.frame == 1)).sum()),
                "clips_with_any": int((self.clip_known.any(axis=1) | self.frame_known.any(axis=(1, 2))).sum())}


def check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not 0.5 <= threshold < 1.0:
        raise ValueError(f"agreement threshold must be in [0.5, 1), got {threshold}")
    return threshold


def agreement(p1: np.ndarray, p2: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise agreement of two probability arrays of one shape: (labels uint8, known bool)."""
    threshold = check_threshold(threshold)
    p1, p2 = np.asarray(p1), np.asarray(p2)
    if p1.shape != p2.shape:
        raise ValueError(f"labeler outputs differ in shape: {p1.shape} and {p2.shape}")
    positive = (p1 > threshold) & (p2 > threshold)
    negative = (p1 < 1.0 - threshold) & (p2 < 1.0 - threshold)
    return positive.astype(np.uint8), positive | negative


def pseudo_label(*, clip1: np.ndarray, clip2: np.ndarray, frame1: np.ndarray, frame2: np.ndarray,
                 labels: np.ndarray, known: np.ndarray, threshold: float = 0.5) -> PseudoLabels:
    """Pseudo-labels of N clips from F1's and F2's clip scores (N, C) and frame scores (N, T, C), given the
    clips' observed weak ``labels`` (N, C) and where they are ``known`` (N, C) (all 0 for U). See the
    module docstring for the rule."""
    n, c = clip1.shape
    if labels.shape != (n, c) or known.shape != (n, c) or frame1.shape[0] != n or frame1.shape[2] != c:
        raise ValueError(f"inconsistent shapes: clip scores {clip1.shape}, frame scores {frame1.shape}, labels "
                         f"{labels.shape}, known {known.shape}")
    known = known.astype(bool)
    clip_agreed, clip_agree_known = agreement(clip1, clip2, threshold)
    clip_pseudo = ~known & clip_agree_known
    clip = np.where(known, labels, clip_agreed).astype(np.uint8)
    clip_known = known | clip_pseudo

    frame_agreed, frame_agree_known = agreement(frame1, frame2, threshold)
    negative_class = clip_known & (clip == 0)  # (N, C): every frame negative
    positive_class = clip_known & (clip == 1)
    has_positive_frame = (frame_agreed.astype(bool) & frame_agree_known).any(axis=1)  # (N, C)
    usable = positive_class & has_positive_frame
    frame_known = (negative_class[:, None, :] | (usable[:, None, :] & frame_agree_known))
    frame = np.where(usable[:, None, :], frame_agreed, 0).astype(np.uint8) * frame_known
    return PseudoLabels(clip, clip_known, clip_pseudo, frame.astype(np.uint8), frame_known)
