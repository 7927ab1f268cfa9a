"""What may enter a loss, per clip: labels with their known masks, and domain labels.

One rule, in one place (the test of "strong labels only for S, U's labels never reach a loss" checks it):

* clip labels (N, C) count where the store's ``known`` mask is 1: the weak labels of S and W; never the
  unlabeled clips U (their ``known`` rows are 0 and are forced to 0 here again);
* frame labels (N, T, C) count only for clips of role ``strong`` (the synthetic set S) that the store marks
  ``frame_known``: every other clip's frame rows are unknown, whatever values they hold;
* the domain label of a clip is 0 for the domain of the strong clips (the "synthetic" source domain) and
  1 for any other domain (the "real" target domain).

Masked entries are replaced by 0 in the value arrays, so no value of a masked entry is even stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRONG, WEAK, UNLABELED = "strong", "weak", "unlabeled"


@dataclass
class Targets:
    """Loss targets of N clips at the model's frame rate: ``clip`` (N, C) and ``frame`` (N, T, C) float32
    values, ``clip_known`` (N, C) and ``frame_known`` (N, T, C) bool masks, ``domain`` (N,) float32."""

    clip: np.ndarray
    clip_known: np.ndarray
    frame: np.ndarray
    frame_known: np.ndarray
    domain: np.ndarray

    def __len__(self) -> int:
        return int(self.clip.shape[0])

    def rows(self, index: np.ndarray) -> Targets:
        return Targets(self.clip[index], self.clip_known[index], self.frame[index], self.frame_known[index],
                       self.domain[index])


def role_index(role_names: tuple[str, ...] | list[str], role: str) -> int:
    """Code of ``role`` in ``role_names`` (-1 when the split has no such role)."""
    return list(role_names).index(role) if role in role_names else -1


def domain_labels(domains: np.ndarray, domain_names: tuple[str, ...] | list[str], roles: np.ndarray,
                  role_names: tuple[str, ...] | list[str], *, where: str = "training split") -> tuple[np.ndarray, str]:
    """(N,) float32 domain labels (0 = the strong clips' domain, 1 = any other) and the source domain's name.

    Raises ``ValueError`` when the split has no strong clip or its strong clips span several domains."""
    strong = roles == role_index(role_names, STRONG)
    if not strong.any():
        raise ValueError(f"{where} has no clip of role 'strong': the synthetic source domain is undefined")
    source = np.unique(domains[strong])
    if len(source) != 1:
        names = ", ".join(str(domain_names[d]) for d in source)
        raise ValueError(f"{where}: the strong clips span several domains ({names}); the source domain must be one")
    return (domains != source[0]).astype(np.float32), str(domain_names[int(source[0])])


def build_targets(*, labels: np.ndarray, known: np.ndarray, roles: np.ndarray, role_names, frame_labels: np.ndarray,
                  frame_known: np.ndarray, domains: np.ndarray, domain_names, where: str = "training split") -> Targets:
    """Targets of a training split from the store's training data (:class:`wlbench.dataset.training_data.TrainingData`).

    ``labels``/``known`` (N, C): the observed clip labels and where they may be used; ``roles`` (N,) codes
    into ``role_names``; ``frame_labels`` (N, T, C) at the model's frame rate and ``frame_known`` (N,) the
    clips whose frame labels may be used (the store sets it for the strong clips only); ``domains`` (N,)
    codes into ``domain_names``."""
    n, c = labels.shape
    if known.shape != (n, c) or roles.shape != (n,) or domains.shape != (n,) or frame_known.shape != (n,) \
            or frame_labels.shape[0] != n or frame_labels.shape[2] != c:
        raise ValueError(f"inconsistent shapes: labels {labels.shape}, known {known.shape}, roles {roles.shape}, "
                         f"frame labels {frame_labels.shape}, frame_known {frame_known.shape}, domains {domains.shape}")
    clip_known = known.astype(bool)
    clip_known[roles == role_index(role_names, UNLABELED)] = False
    clip = np.where(clip_known, labels, 0).astype(np.float32)
    strong = frame_known.astype(bool) & (roles == role_index(role_names, STRONG))
    frame_known_full = np.broadcast_to(strong[:, None, None], frame_labels.shape).copy()
    frame = np.where(frame_known_full, frame_labels, 0).astype(np.float32)
    domain, _ = domain_labels(domains, domain_names, roles, role_names, where=where)
    return Targets(clip, clip_known, frame, frame_known_full, domain)


def with_pseudo_labels(targets: Targets, rows: np.ndarray, pseudo) -> Targets:
    """A copy of ``targets`` whose ``rows`` (the W and U clips) take the clip and frame labels and masks of
    ``pseudo`` (a :class:`wlbench_baselines.park2019.pseudo.PseudoLabels` over exactly those rows, in that order).
    The caller passes the W and U rows only (the strong clips keep the store's frame labels)."""
    rows = np.asarray(rows)
    if len(rows) != pseudo.clip.shape[0]:
        raise ValueError(f"{len(rows)} rows but pseudo-labels for {pseudo.clip.shape[0]} clips")
    out = Targets(targets.clip.copy(), targets.clip_known.copy(), targets.frame.copy(), targets.frame_known.copy(),
                  targets.domain)
    out.clip[rows] = pseudo.clip
    out.clip_known[rows] = pseudo.clip_known
    out.frame[rows] = pseudo.frame
    out.frame_known[rows] = pseudo.frame_known
    return out
