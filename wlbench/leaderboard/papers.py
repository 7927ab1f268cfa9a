"""The paper and the docs section behind each reference experiment, for the board's reference entries.

An entry made by ``wlbench experiment ... --submit`` is named ``<method> [<experiment>]`` (or
``<method> (<control>) [<experiment>]``); :func:`reference_for` maps the experiment (``park2019-nogap`` falls
under ``park2019``) to the paper it reproduces and the section of ``docs/baselines.md`` that documents the
run. Entries of other experiments, and entries submitted by hand, have none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wlbench.leaderboard.tables import experiment_of

DOCS_PAGE = "docs/baselines.md"


@dataclass(frozen=True)
class Reference:
    citation: str
    url: str | None  # None where no stable public copy is known
    section: str  # a heading of docs/baselines.md, exactly as written there

    @property
    def anchor(self) -> str:
        """The GitHub-style anchor of :attr:`section` (lower case, punctuation dropped, spaces to ``-``)."""
        text = re.sub(r"[^\w\- ]", "", self.section.lower())
        return text.replace(" ", "-")


# experiment name prefix -> reference (the longest matching prefix wins)
REFERENCES: dict[str, Reference] = {
    "turpault2020": Reference("Turpault, Serizel, Vincent: Limitations of weak labels for embedding and tagging "
                              "(ICASSP 2020)", "https://arxiv.org/abs/2002.01687",
                              "The Turpault 2020 grid with controls (framework v2)"),
    "turpault2019": Reference("Turpault, Serizel, Vincent: Semi-supervised triplet loss based learning of ambient "
                              "audio embeddings (ICASSP 2019)", "https://hal.archives-ouvertes.fr/hal-02025824",
                              "Semi-supervised triplet sampling (Turpault, Serizel, Vincent, ICASSP 2019)"),
    "dinkel2022": Reference("Dinkel et al.: Pseudo strong labels for large scale weakly supervised audio tagging "
                            "(ICASSP 2022)", "https://arxiv.org/abs/2204.13430",
                            "Pseudo strong labels (Dinkel et al., ICASSP 2022)"),
    "fonseca2020": Reference("Fonseca et al.: Addressing missing labels in large-scale sound event recognition "
                             "using a teacher-student framework with loss masking (IEEE SPL 2020)",
                             "https://arxiv.org/abs/2005.00878",
                             "Loss masking for missing labels (Fonseca et al., 2020)"),
    "park2019": Reference("Park et al.: Weakly labeled sound event detection using tri-training and adversarial "
                          "learning (DCASE 2019 workshop)", None,
                          "Park et al. (DCASE 2019): tri-training with adversarial domain adaptation"),
}


def reference_for(entry: dict[str, Any]) -> Reference | None:
    """The paper and docs section of the experiment ``entry`` came from, or None."""
    exp = experiment_of(entry)
    if not exp:
        return None
    for key in sorted(REFERENCES, key=len, reverse=True):
        if exp == key or exp.startswith(key + "-"):
            return REFERENCES[key]
    return None
