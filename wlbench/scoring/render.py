"""Reports as text tables, and the PSD-ROC figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wlbench.atomic import atomic_path
from wlbench.errors import WlbenchError


def fmt(v: Any) -> str:
    """A table cell: numbers with 4 decimals, booleans yes/no, missing values '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _truth_line(report: dict[str, Any]) -> str | None:
    ds = report.get("dataset") or {}
    if not ds:
        return None
    where = (f"dataset {ds.get('name')} split {report.get('split')} (truth id {str(ds.get('split_truth_id'))[:12]})"
             if "content_id" in ds else f"truth {ds.get('truth')} ({ds.get('truth_kind')}, durations {ds.get('durations')})")
    view = report.get("labels")
    if view and view != "true":  # scored against a missing-label view, not the true labels: say so
        where += f" labels: view {view!r}"
    return f"{where} task {report['task']}  n_clips={report['n_clips']}"


def render_report(report: dict[str, Any], max_classes: int | None = None) -> str:
    """Concise table: headline metrics with intervals, then per class."""
    s = report["settings"]
    lines = []
    head = _truth_line(report)
    if head:
        lines.append(head)
    ci = int(round(100 * s["ci"]))
    lines.append(f"{'metric':<28}{'value':>9}  {ci}% CI ({s['n_resamples']} resamples, seed {s['seed']})")
    for name, h in report["headline"].items():
        interval = f"[{fmt(h['ci_low'])}, {fmt(h['ci_high'])}]" if h.get("ci_low") is not None else "[-]"
        lines.append(f"{name:<28}{fmt(h['value']):>9}  {interval}")
    rows = list(report["per_class"].items())
    if rows:
        cols = [c for c in rows[0][1].keys() if not c.endswith("_names")][:8]
        # every header and class name whole: each column as wide as its name (at least a 4-decimal value)
        width = max(12, max(len(c) for c, _ in rows) + 2)
        widths = [max(len(c), 9) + 2 for c in cols]
        lines.append("")
        lines.append(f"{'class':<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
        shown = rows if max_classes is None else rows[:max_classes]
        for cname, vals in shown:
            lines.append(f"{cname:<{width}}" + "".join(f"{fmt(vals.get(c)):>{w}}" for c, w in zip(cols, widths)))
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more classes in the JSON report")
    ex = report.get("excluded_classes", {})
    if ex.get("no_positives"):
        lines.append(f"excluded from macro averages (no positives): {', '.join(ex['no_positives'])}")
    if ex.get("no_negatives"):
        lines.append(f"excluded from AUC/d' macro averages (no negatives): {', '.join(ex['no_negatives'])}")
    notes = report.get("notes", {})
    if notes.get("dprime_clipped_classes"):
        lines.append(f"d': AUC clipped to keep d' finite for {notes['dprime_clipped_classes']} class(es)")
    if notes.get("reference_events_merged"):
        lines.append(f"reference: {notes['reference_events_merged']} overlapping same-class event(s) merged "
                     "(DCASE rule)")
    return "\n".join(lines)


def render_comparison(result: dict[str, Any]) -> str:
    """Table of the paired test: A, B, A - B with interval and p-value per metric."""
    s = result["settings"]
    ci = int(round(100 * s["ci"]))
    b = int(s["n_resamples"])
    lines = [f"A = {result.get('a')}", f"B = {result.get('b')}",
             f"{'metric':<26}{'A':>9}{'B':>9}{'A-B':>9}  {ci}% CI of A-B{'':<8}{'p':>7}"]
    for name, r in result["comparison"].items():
        interval = f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"
        lines.append(f"{name:<26}{fmt(r['a']):>9}{fmt(r['b']):>9}{fmt(r['diff']):>9}  {interval:<24}"
                     f"{fmt(r['p_value']):>7}")
    smallest = 2.0 / (b + 1)
    lines.append(f"paired bootstrap, {b} resamples (seed {s['seed']}): the smallest p-value it can give is "
                 f"{smallest:.4f}" + ("; use more resamples for a finer test" if smallest > 0.01 else ""))
    return "\n".join(lines)


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def check_plot_path(path: str | Path) -> None:
    """Refuse, before any work, a figure path whose suffix is not a format written here."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise WlbenchError(f"--plot {path}: unknown figure type: the format is told by the suffix, one of "
                           f"{', '.join(PLOT_SUFFIXES)}", hint="e.g. --plot roc.png")


def check_plot_request(task: str, path: str | Path) -> None:
    """Refuse a PSD-ROC figure that cannot be drawn, before any scoring: only ``frame_scores`` reports have
    a PSD-ROC, and the figure is written as PNG, PDF or SVG (by suffix, :func:`check_plot_path`)."""
    if task != "frame_scores":
        raise WlbenchError(f"--plot {path}: only frame-score submissions (task frame_scores) have a PSD-ROC; this "
                           f"submission is scored as {task}",
                           hint="leave out --plot, or score a folder of sed_scores_eval score tables")
    check_plot_path(path)


def plot_psd_roc(report: dict[str, Any], path: str | Path) -> Path:
    """The PSD-ROC curves of a frame-score report (PSDS1 and PSDS2) as a figure (PNG/PDF/SVG by suffix),
    written atomically."""
    check_plot_path(path)
    curves = report.get("curves") or {}
    if not curves:
        raise WlbenchError("this report has no PSD-ROC: only frame-score submissions (task frame_scores) have one",
                           hint="score sed_scores_eval score files, or leave out --plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        c = curves[name]
        value = report["headline"].get(name, {})
        for k, roc in enumerate((c.get("classes") or {}).values()):
            ax.step(list(roc["efpr"]) + [c["efpr"][-1]], list(roc["tpr"]) + [roc["tpr"][-1]], where="post",
                    color="0.6", lw=0.8, alpha=0.7, label="classes" if k == 0 else None)
        ax.step(c["efpr"], c["etpr"], where="post", color="C0", lw=2, label="PSD-ROC")
        ax.fill_between(c["efpr"], c["etpr"], step="post", alpha=0.2, color="C0")
        title = f"{name.upper()} = {fmt(value.get('value'))}"
        if value.get("ci_low") is not None:
            title += f" [{fmt(value['ci_low'])}, {fmt(value['ci_high'])}]"
        ax.set_title(title)
        p = report["settings"].get(name, {})
        ax.set_xlabel("effective false positive rate (per hour)")
        ax.set_ylabel("effective true positive rate")
        ax.set_xlim(0, p.get("max_efpr", c["efpr"][-1] if c["efpr"] else 1))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        ax.text(0.98, 0.04, f"dtc {p.get('dtc')}, gtc {p.get('gtc')}, cttc {p.get('cttc')}\n"
                f"alpha_ct {p.get('alpha_ct')}, alpha_st {p.get('alpha_st')}", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=8)
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target, suffix=target.suffix or ".png") as tmp:
        fig.savefig(tmp, format=(target.suffix[1:] or "png"))
    plt.close(fig)
    return target
