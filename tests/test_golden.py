"""The golden reference run (tests/golden.py): tiny renders and one short run of every method family,
through the public CLI, give byte-identical datasets, checkpoints, predictions and reports to the ones
recorded in tests/data/golden.json. A refactor that changes no number keeps this green; a change that is
meant to alter numbers re-records it (``python tests/golden.py --record``) and says so."""

from __future__ import annotations

import json

import pytest
import torch
from golden import RECORD, build, capability, digests

torch.set_num_threads(1)


@pytest.mark.slow
def test_golden_run_is_byte_identical_to_the_record(tone_bank, tmp_path):
    recorded = json.loads(RECORD.read_text())
    build(tmp_path / "out", tone_bank)
    found = digests(tmp_path / "out")
    assert sorted(found) == sorted(recorded["digests"]), "the golden run wrote other files than recorded"
    ids = {k: v for k, v in found.items() if k.endswith(".h5")}
    assert ids == {k: v for k, v in recorded["digests"].items() if k.endswith(".h5")}  # machine-independent
    if capability() != recorded["capability"]:
        pytest.skip(f"this machine is {capability()}, the record was made on {recorded['capability']}: "
                    "dataset ids equal; checkpoints are only claimed byte-identical on the same CPU and kernels")
    changed = sorted(k for k, v in found.items() if recorded["digests"][k] != v)
    assert not changed, f"{len(changed)} files differ from the golden record, first: {changed[:5]}"
