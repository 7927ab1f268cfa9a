"""The training-data API: what a trainer may see of one split, under one label condition, in one call.

Every trainer reads its data through :func:`training_data` (``training_data(dataset.split(name), ...)``). It returns the labels of the chosen *label view* with the mask of labels that may
enter a loss, the roles (strong / weak / unlabeled), the acoustic domains, and on request strong frame
labels, chunk labels and segment windows. The true labels and the dropped positives are not part of it: a
method sees the truth only through a named oracle (``oracle="labels"``: the true-label upper bound;
``oracle="mask"``: the dropped positives masked out of the loss; ``oracle="roles"``: the true clip and frame
labels of every clip whatever its role, for upper bounds of pseudo-labelling), and the run's
:class:`~wlbench.methods.protocol.Audit` measures a method's own labels against the truth without returning it.

Rules (documented in docs/format.md; ``oracle="roles"`` lifts the role rules: every clip, unlabeled ones
included, gets its true labels, ``known`` all 1, and its true frame labels, ``frame_known`` all True):
- ``labels`` are the view's observed clip labels (the truth for ``"true"``). Rows of ``unlabeled`` clips are
  zero and their ``known`` rows zero: no label of theirs may enter a loss.
- With ``segment``: ``features`` are the segment window of each clip and ``labels`` the segment view's labels
  AND the observed clip labels (a class dropped from a clip's annotation stays dropped in its windows).
- ``frame_labels`` (``frames=True``) are the true frame labels of ``strong`` clips AND their observed clip
  labels, zero for every other clip (``frame_known`` says which clips have them); with ``segment`` they
  cover the window.
- ``chunk_labels`` (``resolution="2s"``) are the resolution view's chunk labels AND the observed clip labels,
  zero for unlabeled clips.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from wlbench.errors import WlbenchError

if TYPE_CHECKING:
    from wlbench.dataset.reader import Split

ORACLES = (None, "labels", "mask", "roles")


@dataclasses.dataclass
class TrainingData:
    """One split seen through one label condition (see the module docstring for the rules).

    Attributes:
        clip_ids: (N,) clip ids in store order.
        features: (N, L, F) float32 log-mel frames (the clip, or its segment window), or None.
        labels: (N, C) uint8 observed labels.
        known: (N, C) uint8, 1 where ``labels`` may enter a loss.
        roles, role_names: (N,) uint8 role codes and their names (every clip ``strong`` without roles).
        domains, domain_names: (N,) int16 domain ids and their names (all ``default`` without domains).
        frame_labels: (N, L, C) uint8 strong labels (``strong`` clips only), or None.
        frame_known: (N,) bool, clips whose frame labels may enter a loss, or None.
        chunk_labels: (N, K, C) uint8 labels of consecutive chunks, or None; ``chunk`` their length (s).
        view, oracle, segment: the condition asked for; ``frame_rate``: feature frames per second.
    """

    clip_ids: np.ndarray
    features: np.ndarray | None
    labels: np.ndarray
    known: np.ndarray
    roles: np.ndarray
    role_names: tuple[str, ...]
    domains: np.ndarray
    domain_names: tuple[str, ...]
    frame_labels: np.ndarray | None
    frame_known: np.ndarray | None
    chunk_labels: np.ndarray | None
    chunk: float | None
    view: str
    oracle: str | None
    segment: str | None
    frame_rate: float | None

    def __len__(self) -> int:
        return int(self.clip_ids.shape[0])

    def role_mask(self, role: str) -> np.ndarray:
        """(N,) bool: clips of ``role`` (all False when the split has no such role)."""
        if role not in self.role_names:
            return np.zeros(len(self), dtype=bool)
        return self.roles == self.role_names.index(role)

    @property
    def labeled(self) -> np.ndarray:
        """(N,) bool: clips with clip labels (every role but ``unlabeled``)."""
        return ~self.role_mask("unlabeled")

    def frame_labels_at(self, pool: int) -> np.ndarray:
        """(N, ceil(L / pool), C) frame labels at a model's frame rate: the max over each run of ``pool``
        frames (a class is present in an output frame when it is present in any of its input frames)."""
        if self.frame_labels is None:
            raise ValueError("frame labels were not loaded: ask training_data(..., frames=True)")
        pool = int(pool)
        if pool < 1:
            raise ValueError(f"pool must be >= 1, got {pool}")
        n, length, c = self.frame_labels.shape
        out_len = -(-length // pool)
        padded = np.zeros((n, out_len * pool, c), dtype=self.frame_labels.dtype)
        padded[:, :length] = self.frame_labels
        return padded.reshape(n, out_len, pool, c).max(axis=2)

    def subset(self, index: np.ndarray) -> TrainingData:
        """The same condition for the clips ``index`` (an index array or a boolean mask)."""
        def take(a):
            return None if a is None else a[index]
        return dataclasses.replace(
            self, clip_ids=self.clip_ids[index], features=take(self.features), labels=self.labels[index],
            known=self.known[index], roles=self.roles[index], domains=self.domains[index],
            frame_labels=take(self.frame_labels), frame_known=take(self.frame_known),
            chunk_labels=take(self.chunk_labels))


def training_data(split: Split, *, labels: str = "true", oracle: str | None = None, segment: str | float | None = None,
                  resolution: str | float | None = None, frames: bool = False,
                  features: bool = True) -> TrainingData:
    """See the module docstring. ``labels``: ``"true"`` or a missing-label view of the split; ``oracle``:
    None, ``"labels"`` (train on the true labels of the labeled clips: the oracle upper bound of a view) or
    ``"mask"`` (mask the view's dropped positives out of the loss) or ``"roles"`` (the true labels of every
    clip, unlabeled ones included, and the true frame labels of every clip, ``frame_known`` all True: the
    upper bound of a method that labels the weak and unlabeled clips itself); ``segment``: a segment view name or
    length (``"1s"``, ``1.0``), None or ``"clip"`` for whole clips; ``resolution``: a resolution view for
    chunk labels; ``frames``: load strong frame labels; ``features``: load the features."""
    if oracle not in ORACLES:
        raise WlbenchError(f"oracle {oracle!r} is not one of none, 'labels', 'mask', 'roles'",
                           hint="oracle='labels' trains on the truth; oracle='mask' masks the dropped positives; "
                                "oracle='roles' gives every clip its true labels and frames")
    truth, observed, dropped = split.label_audit(labels)
    roles, role_names = split.roles(), split.role_names
    unlabeled = roles == role_names.index("unlabeled") if "unlabeled" in role_names else np.zeros(len(split), bool)
    if oracle in ("labels", "roles"):
        observed = truth.copy()
    known = np.ones_like(truth)
    if oracle == "mask":
        known[dropped == 1] = 0
    seg = None if segment is None or str(segment) in ("clip", "") else segment
    window = None
    if seg is not None:
        window_labels = split.segment(seg).weak_labels()
        seg = split.segment(seg).name
        observed = (window_labels & observed).astype(np.uint8)
        window = split.segment(seg).frame_index()
    if oracle != "roles":
        observed[unlabeled] = 0
        known[unlabeled] = 0
    feats = None
    if features:
        feats = split.features()
        if window is not None:
            feats = np.take_along_axis(feats, window[:, :, None], axis=1)
        feats = np.ascontiguousarray(feats, dtype=np.float32)
    frame_labels = frame_known = None
    if frames:
        frame_known = roles == role_names.index("strong") if "strong" in role_names else np.ones(len(split), bool)
        if oracle == "roles":
            frame_known = np.ones(len(split), bool)
        frame_labels = split.frame_labels()
        if window is not None:
            frame_labels = np.take_along_axis(frame_labels, window[:, :, None], axis=1)
        frame_labels = frame_labels & observed[:, None, :]
        frame_labels[~frame_known] = 0
    chunk_labels, chunk = None, None
    if resolution is not None:
        view = split.resolution(resolution)
        chunk = view.chunk
        chunk_labels = (view.labels() & observed[:, None, :]).astype(np.uint8)
    return TrainingData(clip_ids=split.clip_ids, features=feats, labels=observed.astype(np.uint8),
                        known=known.astype(np.uint8), roles=roles, role_names=role_names, domains=split.domains(),
                        domain_names=split.domain_names, frame_labels=frame_labels, frame_known=frame_known,
                        chunk_labels=chunk_labels, chunk=chunk, view=labels, oracle=oracle, segment=seg,
                        frame_rate=split.frame_rate if "features" in split.group else None)
