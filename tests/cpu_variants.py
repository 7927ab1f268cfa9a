"""Environments that make one process compute like another CPU: another OpenBLAS kernel
(``OPENBLAS_CORETYPE``), numpy without its AVX2/FMA3 loops (``NPY_DISABLE_CPU_FEATURES``), or glibc's libm
without its AVX2/FMA variants (``GLIBC_TUNABLES=glibc.cpu.hwcaps=...``).

Only the settings this CPU can run are returned (a kernel using instructions the CPU lacks dies with
SIGILL), each probed once per test session in a subprocess.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

BLAS_KERNELS = ("SkylakeX", "Haswell", "Sandybridge", "Prescott")
NUMPY_PATHS = ("AVX512F,AVX512CD,AVX512_SKX,AVX2,FMA3", "AVX512F,AVX512CD,AVX512_SKX,AVX2,FMA3,AVX,F16C")
LIBM_PATHS = ("glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA",)
_PROBE = "import numpy as np; a = np.ones((64, 64), np.float32); (a @ a).sum(); np.log(a)"


def _runs(env: dict[str, str]) -> bool:
    done = subprocess.run([sys.executable, "-c", _PROBE], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)
    return done.returncode == 0 and "Traceback" not in done.stderr


@functools.lru_cache(maxsize=1)
def cpu_variants() -> tuple[dict[str, str], ...]:
    """The accepted settings: every BLAS kernel this CPU runs, then numpy SIMD paths and libm variants
    disabled."""
    blas = [{"OPENBLAS_CORETYPE": kernel} for kernel in BLAS_KERNELS]
    simd = [{"NPY_DISABLE_CPU_FEATURES": features} for features in NUMPY_PATHS]
    libm = [{"GLIBC_TUNABLES": tunables} for tunables in LIBM_PATHS] if "GLIBC_TUNABLES" not in os.environ else []
    return tuple(env for env in blas + simd + libm if _runs(env))
