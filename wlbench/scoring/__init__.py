"""The scoring harness: truth + submission -> one report type, built once.

- :mod:`~wlbench.scoring.settings` -- every metric setting, the named conventions (``wlbench``, ``dcase``);
- :mod:`~wlbench.scoring.truth` -- the truth (a dataset split, or DCASE files) and its merged reference;
- :mod:`~wlbench.scoring.tasks` -- the table of tasks (tagging, detection, embedding, frame_scores), each
  a statistic builder (:mod:`~wlbench.scoring.tagging`, ...) and a describer;
- :mod:`~wlbench.scoring.core` -- validate, then score or compare (bootstrap intervals, paired test);
- :mod:`~wlbench.scoring.report` -- the report type and its JSON; :mod:`~wlbench.scoring.render` -- text
  tables and the PSD-ROC figure.
"""

from wlbench.scoring.core import (
                                  compare,
                                  compare_detection,
                                  compare_embedding,
                                  compare_files,
                                  compare_submissions,
                                  compare_tagging,
                                  declared_segment,
                                  score,
                                  score_detection,
                                  score_embedding,
                                  score_file,
                                  score_frame_scores,
                                  score_submission,
                                  score_tagging,
)
from wlbench.scoring.render import plot_psd_roc, render_comparison, render_report
from wlbench.scoring.report import Report, json_safe, write_report
from wlbench.scoring.settings import CONVENTIONS, Settings
from wlbench.scoring.tagging import TaggingStat
from wlbench.scoring.tasks import TASKS
from wlbench.scoring.truth import Truth, dataset_block, truth_from_dataset, truth_from_files, truth_from_folder

__all__ = [
    "CONVENTIONS", "Report", "Settings", "TASKS", "TaggingStat", "Truth", "compare", "compare_detection",
    "compare_embedding", "compare_files", "compare_submissions", "compare_tagging", "dataset_block",
    "declared_segment", "json_safe", "plot_psd_roc", "render_comparison", "render_report", "score",
    "score_detection", "score_embedding", "score_file", "score_frame_scores", "score_submission",
    "score_tagging", "truth_from_dataset", "truth_from_files", "truth_from_folder", "write_report",
]
