"""Tables of numbers read from delimited text fast and exactly (Apache Arrow's CSV reader).

A score submission holds millions of numbers (1,000 sed_scores_eval score files of 156 frames x 10 classes:
1.9 million), written as shortest round-trip decimals, so reading one back must give the very float64 that
was written: every number correctly rounded, as Python's ``float`` reads it. Arrow's reader parses them
correctly rounded (checked, not assumed: tests/test_score_numbers.py compares every value with ``float()``
on hard cases: 17 significant digits, midpoints between adjacent doubles and their neighbours, subnormals,
exponents) and about 5x faster than numpy's text reader; pandas' default C parser is faster still but
1 ulp or more off for about 40 % of such cases. Polars' reader is exact too and ~1.4x faster than Arrow's
here, but its wheels need AVX2/FMA CPUs; Arrow picks its SIMD level at run time (docs/performance.md).

:func:`read_numbers` (score files) and :func:`read_named_numbers` (a clip id column, then numbers: wide
clip scores) are fast paths only: a table holding anything but plain numbers (an empty field, a NaN word
Arrow reads as null, a quoted field, a row of another width) gives None, and the caller reads it field by
field to report exactly what is wrong. Whatever it does accept is what ``float()`` gives for the
same field (surrounding spaces allowed, as ``float`` allows them).
"""

from __future__ import annotations

import numpy as np

from wlbench.threads import harness_threads

SEPARATORS = ("\t", ",")  # runs of spaces are not a CSV delimiter: such tables are read field by field


def read_numbers(body: bytes, *, sep: str, width: int, threads: bool | None = None) -> np.ndarray | None:
    """The (rows, ``width``) float64 array of the ``sep``-separated lines of ``body`` (``\\n`` or ``\\r\\n``
    line ends, no header), or None when any line has another number of fields or any field is not a plain
    number. Blank lines are rows too (and so refused): the row count is the caller's to check.

    ``threads``: let Arrow parse blocks of the text on its thread pool; by default when the harness has more
    than one thread (:func:`~wlbench.threads.harness_threads`: ``WLBENCH_THREADS``, else the cores).
    """
    table = _read_csv(body, sep=sep, width=width, text_column=None, threads=threads)
    return None if table is None else table[1]


def read_named_numbers(body: bytes, *, sep: str, width: int, name_column: int, threads: bool | None = None
                       ) -> tuple[list[str], np.ndarray] | None:
    """As :func:`read_numbers` for lines whose field ``name_column`` is text (a clip id, kept as written,
    surrounding spaces included): (the texts, the (rows, ``width`` - 1) numbers of the other fields in
    order), or None."""
    if not 0 <= name_column < width:
        raise ValueError(f"name_column {name_column} is not a column of {width}")
    return _read_csv(body, sep=sep, width=width, text_column=name_column, threads=threads)


def _read_csv(body: bytes, *, sep: str, width: int, text_column: int | None, threads: bool | None
              ) -> tuple[list[str], np.ndarray] | None:
    if threads is None:
        threads = harness_threads() > 1
    if sep not in SEPARATORS:
        raise ValueError(f"Arrow reads tab- or comma-separated text here, not {sep!r}")
    if width < 1 or not body:
        return None
    import pyarrow as pa  # noqa: PLC0415 - imported when score tables are read, not with every command
    import pyarrow.csv as pc  # noqa: PLC0415

    names = [f"c{i}" for i in range(width)]
    types = {n: (pa.string() if i == text_column else pa.float64()) for i, n in enumerate(names)}
    try:
        table = pc.read_csv(
            pa.py_buffer(body),
            read_options=pc.ReadOptions(column_names=names, use_threads=threads, block_size=1 << 22),
            parse_options=pc.ParseOptions(delimiter=sep, quote_char=False, double_quote=False, escape_char=False,
                                          newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pc.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False,
                                              quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None  # not a plain table of numbers: the caller reads it field by field and reports why
    columns = table.columns
    if any(c.null_count for c in columns):
        return None
    numeric = [j for j in range(width) if j != text_column]
    out = np.empty((table.num_rows, len(numeric)), dtype=np.float64)
    for k, j in enumerate(numeric):
        out[:, k] = columns[j].to_numpy()
    texts = [] if text_column is None else columns[text_column].to_pylist()
    return texts, out
