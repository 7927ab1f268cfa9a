"""The one place that imports scaper and jams.

scaper 1.6.5 uses ``np.Inf``, which NumPy 2 removed: alias it before the import. jams emits a jsonschema
DeprecationWarning on every load: silence exactly that.
"""

from __future__ import annotations

import warnings

import numpy as np

if not hasattr(np, "Inf"):
    np.Inf = np.inf  # type: ignore[attr-defined]

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"jams(\..*)?")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"jsonschema(\..*)?")
warnings.filterwarnings("ignore", message=r".*jsonschema.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=r".*pkg_resources.*", category=UserWarning)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import jams  # noqa: E402
    import scaper  # noqa: E402

__all__ = ["jams", "scaper"]
