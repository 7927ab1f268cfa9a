"""Numbers of score tables read fast and exactly: every value Arrow's reader accepts is the float64 Python's
``float()`` gives for the same text (hard cases included), anything else falls back to the field-by-field
reader, and the bytes-level cutting of a table into header and rows is the text-level one."""

from __future__ import annotations

import codecs
import random
import struct
from decimal import Decimal, getcontext

import numpy as np
import pytest

from wlbench.submissions import Expected, read_score_files
from wlbench.submissions.numbers import read_numbers
from wlbench.submissions.report import ValidationReport
from wlbench.submissions.scores import _header_and_body
from wlbench.submissions.text import to_float


def _double(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def hard_numbers(seed: int = 0, n: int = 1500) -> list[str]:
    """Decimal texts that are hard to round correctly: shortest and 17-digit forms of random doubles over
    the whole exponent range, long expansions, exact midpoints between adjacent doubles and texts a hair
    above and below them, subnormals, the limits, and plain forms (signs, no leading or trailing digit)."""
    rng = random.Random(seed)
    getcontext().prec = 900
    out: list[str] = []
    for _ in range(n):
        x = _double(rng.getrandbits(64))
        if np.isfinite(x):
            out += [repr(x), f"{x:.17g}", f"{x:.16e}", f"{x:.18E}"]
        u = rng.random()
        out += [repr(u), f"{u:.17g}", f"{u:.20f}", f"{u:.25g}"]
        sub = _double(rng.getrandbits(52))  # subnormal (or zero)
        out += [repr(sub), f"{sub:.17e}"]
        x = rng.random() * 10.0 ** rng.randint(-300, 300)
        mid = (Decimal(x) + Decimal(float(np.nextafter(x, np.inf)))) / 2  # a tie: round half to even
        tiny = Decimal(10) ** (mid.adjusted() - 30)
        out += [format(mid, "e"), format(mid + tiny, ".40e"), format(mid - tiny, ".40e")]
    out += ["2.2250738585072011e-308", "2.2250738585072012e-308", "4.9406564584124654e-324",
            "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e+308",
            "1.7976931348623159e308", "1e-320", "0.0", "-0.0", "1E5", "1e+05", "+1.5", "-1.5", ".5", "5.", "00.5",
            "0.30000000000000004", "9007199254740993", "9007199254740992.5", "123456789012345678901234567890",
            "1.00000000000000011102230246251565404236316680908203125", "1e23", "8.98846567431158e307", "1e400",
            "1e-400", "0." + "0" * 340 + "1", "1" + "0" * 330]
    return out


@pytest.mark.parametrize(("sep", "threads"), [("\t", False), (",", False), ("\t", True)])
def test_every_value_is_what_float_reads(sep, threads):
    texts = hard_numbers()
    width = 7
    texts += ["0.5"] * (-len(texts) % width)
    rows = [sep.join(texts[i:i + width]) for i in range(0, len(texts), width)]
    got = read_numbers("\n".join(rows).encode(), sep=sep, width=width, threads=threads)
    want = np.array([float(t) for t in texts]).reshape(-1, width)
    assert got is not None and got.shape == want.shape
    bad = np.flatnonzero(got.view(np.int64).ravel() != want.view(np.int64).ravel())
    assert not bad.size, [(texts[i], got.ravel()[i], want.ravel()[i]) for i in bad[:5]]
    crlf = read_numbers(("\r\n".join(rows) + "\r\n").encode(), sep=sep, width=width)
    assert crlf is not None and (crlf.view(np.int64) == want.view(np.int64)).all()


ODD = ["inf", "-Infinity", "nan", "NaN", "-nan", "+nan", "NAN", "na", "NA", "n/a", "N/A", "null", "NULL", "None",
       "", " ", " 0.5", "0.5 ", "1e", "e5", ".", "-", "+", "1_000", "0x10", "0.5f", "1d5", "1.5e3.2", '"0.5"',
       "'0.5'", "true", "1/2", "\u0661", "\uff11", "1e0005", ".e5", "5e+", "--1", "+-1", "1..2", "0.5\x00"]


@pytest.mark.parametrize("text", ODD)
def test_odd_fields_are_read_as_float_reads_them_or_refused(text):
    """Whatever the fast reader accepts is ``float()``'s value (NaN words read as NaN); the rest gives None,
    and the field-by-field reader reports it."""
    got = read_numbers(f"0.25\t{text}\t1\n".encode(), sep="\t", width=3)
    if got is None:
        return
    want = to_float(text)
    assert want is not None, f"{text!r} accepted as {got[0, 1]!r}, float() refuses it"
    assert got.shape == (1, 3) and (got[0, 1] == want or (np.isnan(want) and np.isnan(got[0, 1])))


def test_rows_of_another_width_or_blank_are_refused():
    assert read_numbers(b"1\t2\t3\n4\t5\n", sep="\t", width=3) is None
    assert read_numbers(b"1\t2\t3\n4\t5\t6\t7\n", sep="\t", width=3) is None
    assert read_numbers(b"1\t2\t3\n\n4\t5\t6\n", sep="\t", width=3) is None
    assert read_numbers(b"1\t2\t3\n4\t5\t6\n", sep="\t", width=3).shape == (2, 3)
    with pytest.raises(ValueError):
        read_numbers(b"1 2 3\n", sep=" ", width=3)


def _reference_cut(data: bytes) -> tuple[str, bytes] | None:
    """The definition: the UTF-8 text's lines (str.splitlines), trailing blank lines dropped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return (lines[0] if lines else ""), "\n".join(lines[1:]).encode()


def test_header_and_rows_cut_as_bytes_are_the_text_lines():
    rng = random.Random(3)
    pieces = ["0.5", "\t", "\n", "\r\n", "\r", " ", "\t\n", "\n\n", " \n", "\x0b", "\x0c", "\x1c", "\x1e", "\x1f",
              "\x85", "\u2028", "é", "onset", "\ufeff"]
    cases = [b"", b"\n", b"\n\n", b"h", b"h\n", b"h\nr", b"h\r\nr\r\n\r\n \t\n", codecs.BOM_UTF8 + b"h\nr\n",
             codecs.BOM_UTF8 * 2 + b"h\nr", b"h\nr\xff\n", b"h\n\t\n", b"h\n1\t\n \n"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        cases.append((codecs.BOM_UTF8 if rng.random() < 0.1 else b"") + text.encode())
    for data in cases:
        report = ValidationReport("x", "frame_scores")
        assert _header_and_body(data, report, "t.tsv") == _reference_cut(data), data
        assert report.ok == (_reference_cut(data) is not None)


def _tables(folder, bodies, header="onset\toffset\tA\tB"):
    folder.mkdir()
    for i, body in enumerate(bodies):
        (folder / f"c{i}.tsv").write_bytes(body if isinstance(body, bytes) else f"{header}\n{body}".encode())
    return Expected(classes=["A", "B"], clip_ids=[f"c{i}" for i in range(len(bodies))], clip_duration=1.0)


def test_score_files_of_hard_numbers_read_back_as_float_reads_them(tmp_path):
    texts = [t for t in hard_numbers(seed=5, n=200) if 0.0 <= float(t) <= 1.0]
    bodies, want = [], []
    for c in range(4):
        vals = texts[c::4]
        rows = [f"{k * 0.125}\t{(k + 1) * 0.125}\t{vals[2 * k]}\t{vals[2 * k + 1]}" for k in range(8)]
        want.append([[float(vals[2 * k]), float(vals[2 * k + 1])] for k in range(8)])
        bodies.append("\r\n".join(rows) + ("\r\n\r\n" if c == 1 else "\n"))
    bodies[2] = codecs.BOM_UTF8 + ("onset\toffset\tB\tA\n" + "\n".join(  # another header: columns by name
        "\t".join(r.split("\t")[:2] + r.split("\t")[2:][::-1]) for r in bodies[2].splitlines())).encode()
    got, rep = read_score_files(tmp_path / "s", _tables(tmp_path / "s", bodies))
    assert rep.ok, rep.summary()
    want = np.array(want).reshape(-1, 2)
    assert (got.frames.scores.view(np.int64) == want.view(np.int64)).all()


def test_one_bad_table_is_reported_with_its_line_and_the_others_read(tmp_path):
    good = "0.0\t0.5\t0.1\t0.2\n0.5\t1.0\t0.3\t0.4\n"
    rep = read_score_files(tmp_path / "s", _tables(tmp_path / "s", [good, good.replace("0.4", "0.4;"), good,
                                                                    good.replace("0.1\t", "\t"), good]))[1]
    problems = sorted((p.kind, p.file, p.row) for p in rep.problems)
    assert problems == [("not_a_number", "c1.tsv", 3), ("not_a_number", "c3.tsv", 2)]
    blank = read_score_files(tmp_path / "b", _tables(tmp_path / "b", [good, good.replace("\n", "\n\n", 1)]))[1]
    assert [(p.kind, p.file, p.row) for p in blank.problems] == [("bad_row", "c1.tsv", 3)]


def test_frames_checked_at_once_are_those_checked_table_by_table():
    """The one-pass check of all tables gives each table what the table-by-table check gives it, and gives
    up (None) whenever one table has a problem or frames to fit to its clip."""
    from wlbench.submissions.scores import _check_frames, _frames_at_once, _Table

    rng = np.random.default_rng(4)
    counts = [5, 1, 7, 3]
    edges = [np.round(np.cumsum(rng.random(n + 1)) * 0.3, 3) for n in counts]
    bulk = np.concatenate([np.column_stack([e[:-1], e[1:], rng.random((len(e) - 1, 2))]) for e in edges])
    tables = [_Table(f"c{k}.tsv", k, "", b"", 2) for k in range(4)]
    order, positions = [2, 0, 3, 1], [3, 2]
    ends = [float(e[-1]) for e in edges]
    durations = np.zeros(4)
    durations[order] = ends

    def both(values, durs):
        exp = Expected(classes=["A", "B"], clip_ids=[f"c{k}" for k in range(4)], durations=durs)
        report = ValidationReport("x", "frame_scores")
        starts = np.cumsum([0, *counts])
        one_by_one = {k: _check_frames(values[a:b], positions, tables[k], exp, report)
                      for k, a, b in zip(order, starts[:-1], starts[1:])}
        fitted = report.notes.get("clips_with_frames_outside_clip", 0)
        return _frames_at_once(values, order, counts, positions, tables, exp), one_by_one, report.ok and not fitted

    at_once, one_by_one, clean = both(bulk, durations)
    assert clean and at_once is not None and at_once.keys() == one_by_one.keys()
    for k in at_once:
        for got, want in zip(at_once[k], one_by_one[k]):
            assert got.flags.c_contiguous and np.array_equal(got, want)
    assert both(bulk, None)[0] is not None
    for row, col, value in ((3, 2, np.nan), (6, 1, np.inf), (2, 0, bulk[2, 1]), (9, 0, bulk[8, 1] + 1e-3),
                            (0, 0, -1e-3), (4, 1, bulk[4, 1] + 1e-3)):
        bad = bulk.copy()
        bad[row, col] = value
        at_once, _, clean = both(bad, durations)
        assert at_once is None and not clean, (row, col)
    assert both(bulk, durations - 1e-3)[0] is None  # the last frames stick out: fitted table by table


def _wide_file(path, rows, header="filename,A,B,C", crlf=False, tail=""):
    end = "\r\n" if crlf else "\n"
    path.write_bytes((end.join([header, *rows]) + end + tail).encode())
    return path


WIDE_CASES = {
    "plain": ["c0,0.1,0.2,0.3", "c1,0.30000000000000004,1e-5,1", "c2,0,0.5,.25"],
    "spaces and blank tail": [" c0 ,0.1, 0.2 ,0.3", "c1,0.4,0.5,0.6", "c2,0.7,0.8,0.9"],
    "unknown, duplicate and empty ids": ["c0,0.1,0.2,0.3", "c9,0.1,0.2,0.3", "c0,0.4,0.5,0.6", ",0.1,0.2,0.3",
                                         "c2,0.7,0.8,0.9"],
    "out of range": ["c0,0.1,0.2,1.3", "c1,0.4,-0.5,0.6", "c2,0.7,0.8,0.9"],
    "not finite": ["c0,0.1,nan,0.3", "c1,0.4,inf,0.6", "c2,0.7,0.8,0.9"],
    "text and empty cells": ["c0,0.1,x,0.3", "c1,0.4,,0.6", "c2,0.7,0.8,0.9"],
    "short and long rows": ["c0,0.1,0.2", "c1,0.4,0.5,0.6,0.7", "c2,0.7,0.8,0.9"],
    "quoted and blank line": ['"c0",0.1,0.2,0.3', "", "c1,0.4,0.5,0.6", "c2,0.7,0.8,0.9"],
    "a missing clip": ["c0,0.1,0.2,0.3", "c2,0.7,0.8,0.9"],
}


@pytest.mark.parametrize("case", sorted(WIDE_CASES))
@pytest.mark.parametrize("sep", [",", "\t"])
def test_wide_clip_scores_read_at_once_are_those_read_field_by_field(case, sep, tmp_path, monkeypatch):
    """A wide clip-score table is read by Arrow when every line is a plain row (else field by field):
    the same scores bit for bit and the same problems, row numbers included, either way."""
    from wlbench.submissions import clip_scores

    rows = [r.replace(",", sep) for r in WIDE_CASES[case]]
    header = "filename,C,B,A".replace(",", sep)  # columns by name, in another order
    rows = [sep.join([r.split(sep)[0], *r.split(sep)[1:][::-1]]) if len(r.split(sep)) == 4 else r for r in rows]
    path = _wide_file(tmp_path / "s.csv", rows, header, crlf=case == "plain", tail="\n \n" if "tail" in case else "")
    exp = Expected(classes=["A", "B", "C"], clip_ids=["c0", "c1", "c2"])
    fast, fast_report = clip_scores.read_clip_scores(path, exp)
    monkeypatch.setattr(clip_scores, "_wide_fast", lambda *a, **k: None)
    slow, slow_report = clip_scores.read_clip_scores(path, exp)
    assert [(p.kind, p.row, p.field, p.message) for p in fast_report.problems] == \
        [(p.kind, p.row, p.field, p.message) for p in slow_report.problems]
    assert (fast is None) == (slow is None)
    if fast is not None:
        assert fast.scores.tobytes() == slow.scores.tobytes()
    if case in ("plain", "spaces and blank tail"):
        assert fast is not None and fast.scores[1, 0] == float(WIDE_CASES[case][1].split(",")[1])


def test_wide_clip_scores_take_the_fast_path_for_plain_rows(tmp_path, monkeypatch):
    from wlbench.submissions import clip_scores

    calls = []
    real = clip_scores._wide_fast
    monkeypatch.setattr(clip_scores, "_wide_fast", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    exp = Expected(classes=["A", "B", "C"], clip_ids=["c0", "c1", "c2"])
    clip_scores.read_clip_scores(_wide_file(tmp_path / "a.csv", WIDE_CASES["plain"]), exp)
    clip_scores.read_clip_scores(_wide_file(tmp_path / "b.csv", WIDE_CASES["text and empty cells"]), exp)
    assert calls[0] is not None and calls[1] is None
