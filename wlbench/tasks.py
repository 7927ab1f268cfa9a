"""The one list of tasks a submission is scored as. Each has a reader (``wlbench.submissions.READERS``), a scorer
(``wlbench.scoring.tasks.TASKS``) and is a ``--task`` choice of every command; both packages check at import
that they cover exactly this list. Kept in a module of its own so that the CLI reads it without importing
the harness."""

TASKS = ("tagging", "detection", "embedding", "frame_scores")
