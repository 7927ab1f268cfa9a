"""Event- and segment-based metrics vs sed_eval 0.2.1 with matching settings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from wlbench.metrics import detection as det

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sed_eval

CLASSES = [f"c{i}" for i in range(4)]


def _random_events(rng, n_files, n, dur=10.0, quant=None):
    f = rng.integers(0, n_files, n)
    lab = rng.integers(0, len(CLASSES), n)
    on = rng.random(n) * dur * 0.9
    off = np.minimum(on + rng.random(n) * 3 + 0.05, dur)
    if quant:
        on = np.round(on / quant) * quant
        off = np.maximum(np.round(off / quant) * quant, on + quant)
    return det.EventList(f, lab, on, off)


def _system(rng, ref, n_files):
    keep = rng.random(len(ref)) > 0.2
    on = np.clip(ref.onset[keep] + rng.normal(0, 0.2, keep.sum()), 0, 9.8)
    off = np.maximum(on + 0.05, ref.offset[keep] + rng.normal(0, 0.3, keep.sum()))
    lab = ref.label[keep].copy()
    swap = rng.random(keep.sum()) < 0.15
    lab[swap] = rng.integers(0, len(CLASSES), swap.sum())
    extra = _random_events(rng, n_files, max(1, len(ref) // 5))
    return det.EventList(np.r_[ref.file[keep], extra.file], np.r_[lab, extra.label],
                         np.r_[on, extra.onset], np.r_[off, extra.offset])


def _sed_eval(ref, est, n_files, t_collar=0.2, pct=0.2, res=1.0):
    def lists(ev):
        out = {i: [] for i in range(n_files)}
        for f, lab, a, b in zip(ev.file, ev.label, ev.onset, ev.offset):
            out[int(f)].append({"filename": f"f{f}", "event_label": CLASSES[lab], "onset": float(a),
                                "offset": float(b)})
        return out

    rl, el = lists(ref), lists(est)
    ev = sed_eval.sound_event.EventBasedMetrics(CLASSES, t_collar=t_collar, percentage_of_length=pct)
    sg = sed_eval.sound_event.SegmentBasedMetrics(CLASSES, time_resolution=res)
    for i in range(n_files):
        ev.evaluate(rl[i], el[i])
        sg.evaluate(rl[i], el[i])
    return ev.results(), sg.results()


def _compare(ours, theirs, er_micro_exact=True):
    assert ours["f1_micro"] == pytest.approx(theirs["overall"]["f_measure"]["f_measure"], abs=1e-12)
    assert ours["precision_micro"] == pytest.approx(theirs["overall"]["f_measure"]["precision"], abs=1e-12)
    assert ours["recall_micro"] == pytest.approx(theirs["overall"]["f_measure"]["recall"], abs=1e-12)
    er = theirs["overall"]["error_rate"]["error_rate"]
    if er_micro_exact:
        assert ours["error_rate_micro"] == pytest.approx(er, abs=1e-12)
    else:  # POLICY: optimal substitutions (ours) >= sed_eval's first-fit, so ER <= sed_eval's
        assert ours["error_rate_micro"] <= er + 1e-12
    for j, c in enumerate(CLASSES):
        cw = theirs["class_wise"][c]
        if ours["n_ref"][j] > 0:
            assert ours["f1"][j] == pytest.approx(np.nan_to_num(cw["f_measure"]["f_measure"]), abs=1e-12)
            assert ours["error_rate"][j] == pytest.approx(cw["error_rate"]["error_rate"], abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_event_and_segment_match_sed_eval(seed):
    rng = np.random.default_rng(seed)
    n_files = 30
    ref = _random_events(rng, n_files, 60, quant=0.1 if seed % 2 else None)
    est = _system(rng, ref, n_files)
    ev_ref, sg_ref = _sed_eval(ref, est, n_files)
    ours_ev = det.event_based_metrics(ref, est, n_files, len(CLASSES))
    ours_sg = det.segment_based_metrics(ref, est, n_files, len(CLASSES), 10.0)
    _compare(ours_ev, ev_ref, er_micro_exact=False)
    _compare(ours_sg, sg_ref)
    # macro averages agree whenever every class has reference events and output
    if (ours_ev["n_ref"] > 0).all() and (ours_ev["n_sys"] > 0).all():
        assert ours_ev["f1_macro"] == pytest.approx(ev_ref["class_wise_average"]["f_measure"]["f_measure"])
        assert ours_sg["f1_macro"] == pytest.approx(sg_ref["class_wise_average"]["f_measure"]["f_measure"])


def test_sed_eval_settings_other_collars():
    rng = np.random.default_rng(10)
    ref = _random_events(rng, 20, 40)
    est = _system(rng, ref, 20)
    ev_ref, sg_ref = _sed_eval(ref, est, 20, t_collar=0.5, pct=0.5, res=0.5)
    _compare(det.event_based_metrics(ref, est, 20, len(CLASSES), 0.5, 0.5), ev_ref, er_micro_exact=False)
    _compare(det.segment_based_metrics(ref, est, 20, len(CLASSES), 10.0, 0.5), sg_ref)


def test_optimal_matching_beats_greedy_order():
    # two refs, two outputs: est 0 fits both refs, est 1 only ref 0 -> the optimal matching finds 2 hits
    ref = det.EventList(np.array([0, 0]), np.array([0, 0]), np.array([1.0, 1.15]), np.array([2.0, 2.15]))
    est = det.EventList(np.array([0, 0]), np.array([0, 0]), np.array([1.1, 0.9]), np.array([2.1, 1.9]))
    m = det.event_based_metrics(ref, est, 1, 1)
    assert m["f1_micro"] == 1.0


def test_empty_output_policy_differs_from_sed_eval_default():
    # POLICY: sed_eval's class-wise average drops NaN classes; with empty output wlbench gives F1 0.
    rng = np.random.default_rng(3)
    ref = _random_events(rng, 5, 12)
    est = det.EventList.empty()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev_ref, _ = _sed_eval(ref, est, 5)
    ours = det.event_based_metrics(ref, est, 5, len(CLASSES))
    assert ours["f1_macro"] == 0.0 and ours["f1_micro"] == 0.0
    assert ours["error_rate_micro"] == pytest.approx(1.0)
    sed_macro = ev_ref["class_wise_average"]["f_measure"]["f_measure"]
    assert np.isnan(sed_macro) or sed_macro != 0.0  # sed_eval does not give 0 here
    seg = det.segment_based_metrics(ref, est, 5, len(CLASSES), 10.0)
    assert seg["f1_macro"] == 0.0


def test_class_without_reference_excluded_from_macro():
    ref = det.EventList(np.array([0]), np.array([0]), np.array([1.0]), np.array([2.0]))
    est = det.EventList(np.array([0, 0]), np.array([0, 1]), np.array([1.0, 3.0]), np.array([2.0, 4.0]))
    m = det.event_based_metrics(ref, est, 1, 2)
    assert m["f1_macro"] == 1.0  # class 1 has no reference: out of the macro average
    assert m["f1_micro"] == pytest.approx(2 / 3)  # its false positive counts in micro


def test_counts_weighting_equals_repeating_files():
    rng = np.random.default_rng(4)
    ref = _random_events(rng, 6, 15)
    est = _system(rng, ref, 6)
    w = np.array([2, 0, 1, 3, 1, 1])
    counts = det.event_based_counts(ref, est, 6, len(CLASSES))
    weighted = det.detection_summary(counts, "event", w)
    # build the repeated data set
    files, labels, on, off, efiles, elabels, eon, eoff = [], [], [], [], [], [], [], []
    new = 0
    for f in range(6):
        for _ in range(w[f]):
            m = ref.file == f
            files += [new] * m.sum()
            labels += list(ref.label[m])
            on += list(ref.onset[m])
            off += list(ref.offset[m])
            m = est.file == f
            efiles += [new] * m.sum()
            elabels += list(est.label[m])
            eon += list(est.onset[m])
            eoff += list(est.offset[m])
            new += 1
    r2 = det.EventList(np.array(files, int), np.array(labels, int), np.array(on), np.array(off))
    e2 = det.EventList(np.array(efiles, int), np.array(elabels, int), np.array(eon), np.array(eoff))
    direct = det.event_based_metrics(r2, e2, new, len(CLASSES))
    for key in ("f1_macro", "f1_micro", "error_rate_micro"):
        assert weighted[key] == pytest.approx(direct[key])


def test_events_from_frame():
    frame = pd.DataFrame({"filename": ["a", "b", None], "event_label": ["c1", "c0", None],
                          "onset": [0.0, 1.0, None], "offset": [1.0, 2.0, None]})
    ev = det.events_from_frame(frame, ["a", "b"], CLASSES)
    assert list(ev.file) == [0, 1] and list(ev.label) == [1, 0]


def test_substitutions_do_not_depend_on_which_maximum_matching_was_found():
    """Two references tie for the one true positive; only one choice leaves a substitution for the other-class
    output. The count is the lexicographic optimum (most true positives, then most substitutions) in every
    order of the events (a hypothesis case that broke the first-found-matching count)."""
    import itertools

    ref = det.EventList(np.zeros(6, int), np.zeros(6, int), np.full(6, 0.1), np.array([1.1, 1.1, 1.1, 1.1, 0.2, 0.4]))
    est = det.EventList(np.zeros(2, int), np.array([1, 0]), np.zeros(2), np.array([0.1, 0.3]))
    seen = set()
    for order in itertools.permutations(range(6)):
        o = np.array(order)
        permuted = det.EventList(ref.file[o], ref.label[o], ref.onset[o], ref.offset[o])
        counts = det.event_based_counts(permuted, est, 1, 2)
        seen.add((counts["tp"].sum(), counts["subs"].sum()))
    assert seen == {(1.0, 1.0)}


@pytest.mark.parametrize("seed", range(6))
def test_substitutions_found_without_the_joint_solver_are_its_count(seed):
    """Files whose candidate true positives share no event skip the weighted assignment (their substitutions
    are one maximum matching over all such files); every file's count is still the joint solver's. Dense
    lists (few classes, up to 12 events a clip, short times) so that all three paths are taken."""
    rng = np.random.default_rng(100 + seed)
    n_files = 80
    ref = _random_events(rng, n_files, 500, dur=4.0, quant=0.1 if seed % 2 else None)
    est = _system(rng, ref, n_files)
    counts = det.event_based_counts(ref, est, n_files, len(CLASSES))
    rf, ef = np.asarray(ref.file), np.asarray(est.file)
    joint = [det._joint_substitutions(ref, est, rf == f, ef == f, 0.2, 0.2, det.TIME_DECIMALS)
             if (rf == f).any() and (ef == f).any() else 0.0 for f in range(n_files)]
    np.testing.assert_array_equal(counts["subs"], joint)
    assert 0 < counts["subs"].sum()
