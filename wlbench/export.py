"""A dataset split's ground truth as DCASE files, readable by sed_eval, sed_scores_eval, psds_eval and DESED.

``export_split`` writes into one directory:

- ``strong.tsv``  ``filename onset offset event_label``: the *reference* events, i.e. the split's events
  merged by the DCASE rule (same-class events of a clip that overlap or touch are one event; the
  dataset's event table keeps every source event); times written exactly (shortest round-trip decimal);
- ``weak.tsv``    ``filename event_labels``: each clip's true labels, comma-separated (empty: no label);
- ``durations.tsv`` ``filename duration``: every clip of the split (clips without events included);
- ``classes.txt``: the dataset's full class list, one a line (classes absent from the split included);
- ``README.md``: provenance (dataset, content id, split, harness version), the class list, where the audio
  is (or that the dataset stores none) and these conventions.

Filenames are ``<clip id>.wav``; score files for the same clips are named ``<clip id>.tsv``. Scoring against
the folder (``wlbench score --truth DIR SUBMISSION``: strong.tsv, durations.tsv and classes.txt) gives the
same numbers as scoring against the dataset.
"""

from __future__ import annotations

from pathlib import Path

from wlbench import HARNESS_VERSION
from wlbench.atomic import ensure_writable_dir, write_text_atomic
from wlbench.errors import WlbenchError

FILES = ("strong.tsv", "weak.tsv", "durations.tsv", "classes.txt", "README.md")


def time_text(value: float) -> str:
    """A time in seconds as the shortest text that reads back as the same float (repr)."""
    return repr(float(value))


def event_lines(frame) -> list[str]:
    """``filename onset offset event_label`` lines (header first) of an event DataFrame (filename = clip id),
    times written exactly."""
    lines = ["filename\tonset\toffset\tevent_label"]
    lines += [f"{f}.wav\t{time_text(a)}\t{time_text(b)}\t{lab}"
              for f, a, b, lab in zip(frame["filename"], frame["onset"], frame["offset"], frame["event_label"])]
    return lines


def label_lines(clip_ids, classes, labels) -> list[str]:
    """``filename event_labels`` lines (header first) of (N, C) 0/1 clip labels, labels comma-separated."""
    lines = ["filename\tevent_labels"]
    for cid, row in zip(clip_ids, labels):
        lines.append(f"{cid}.wav\t{','.join(c for c, v in zip(classes, row) if v)}")
    return lines


def truth_tables(truth) -> dict[str, list[str]]:
    """The lines of ``strong.tsv`` (merged reference), ``weak.tsv`` and ``durations.tsv`` of a truth."""
    durations = ["filename\tduration"] + [f"{c}.wav\t{time_text(d)}" for c, d in zip(truth.clip_ids, truth.durations)]
    return {"strong.tsv": event_lines(truth.reference_frame()),
            "weak.tsv": label_lines(truth.clip_ids, truth.classes, truth.weak_labels),
            "durations.tsv": durations}


def export_split(dataset_path: str | Path, split: str, out: str | Path, *, force: bool = False) -> list[Path]:
    """Write the DCASE files of ``split`` of the dataset into ``out`` (see the module doc); refuses to
    replace existing export files unless ``force``. Returns the written paths."""
    from wlbench.dataset.reader import open_dataset
    from wlbench.scoring.truth import truth_from_dataset

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WlbenchError(f"--out {out} exists and is not a directory", hint="give a directory")
    existing = [out / name for name in FILES if (out / name).exists()]
    if existing and not force:
        raise WlbenchError(f"{existing[0]} exists; not replacing export files",
                           hint="choose another --out, or pass --force to replace them")
    with open_dataset(dataset_path) as ds:
        truth = truth_from_dataset(ds, dataset_path, split)
        ref = truth.reference_frame()
        block = truth.source
        sp = ds.split(split)
        has_audio = "audio" in sp.group
    ensure_writable_dir(out)
    tables = truth_tables(truth)
    strong, weak, durations = tables["strong.tsv"], tables["weak.tsv"], tables["durations.tsv"]
    absent = [c for j, c in enumerate(truth.classes) if not truth.weak_labels[:, j].any()]
    if has_audio:
        audio_line = (f"The audio is stored in the dataset file (`{Path(dataset_path).name}`, split group "
                      f"`{split}`, dataset `audio`), not beside these files.")
    else:
        audio_line = ("No audio: this dataset was rendered without storing audio (`audio.store_audio = false`); "
                      "each clip's scaper JAMS annotation is stored in the dataset file, from which scaper can "
                      "re-render the audio given the soundbank it was rendered from.")
    readme = f"""# Ground truth of {block['name']} / {split} (DCASE format)

Written by wlbench {HARNESS_VERSION} (`wlbench export`) from `{Path(dataset_path).name}`,
split truth id `{block['split_truth_id']}`, content id `{block['content_id']}`, spec id `{block['spec_id']}`.
{truth.n_clips} clips, {len(truth.classes)} classes (the dataset's full class list, also in classes.txt;
{len(absent)} of them without an event in this split{': ' + ', '.join(absent) if absent else ''}):
{', '.join(truth.classes)}.

| file | columns | content |
|---|---|---|
| strong.tsv | filename, onset, offset, event_label | the reference events ({len(ref)}), tab-separated |
| weak.tsv | filename, event_labels | the true labels of every clip, comma-separated (empty: none) |
| durations.tsv | filename, duration | every clip of the split, in seconds |
| classes.txt | one class a line | every class of the dataset, in its order |

Conventions:
- **Reference events are merged** (the DCASE convention): same-class events of one clip that overlap or
  touch become one event spanning them ({truth.n_merged} source event(s) were absorbed). The dataset's event
  table keeps every source event (with its source file and SNR); this file is what detection metrics use.
- Times are written exactly (the shortest decimal that reads back as the same number).
- Filenames are `<clip id>.wav`. {audio_line}
- Clips without events appear in durations.tsv (and with an empty label in weak.tsv) only.
- Score files (sed_scores_eval) for these clips are named `<clip id>.tsv`.
- Score with wlbench: `wlbench score --truth THIS_FOLDER SUBMISSION` (reads strong.tsv, durations.tsv and
  classes.txt, so classes absent from this split stay known); or with sed_eval / sed_scores_eval / psds_eval
  directly.
"""
    written = []
    classes = list(truth.classes)
    for name, text in (("strong.tsv", strong), ("weak.tsv", weak), ("durations.tsv", durations),
                       ("classes.txt", classes)):
        write_text_atomic(out / name, "\n".join(text) + "\n")
        written.append(out / name)
    write_text_atomic(out / "README.md", readme)
    written.append(out / "README.md")
    return written
