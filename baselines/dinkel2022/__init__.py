"""Dinkel, Yan, Wang, Zhang, Wang, "Pseudo strong labels for large scale weakly supervised audio tagging"
(ICASSP 2022).

A machine annotator (teacher, decision-level pooling, trained on 10 s clips with SpecAugment and mixup)
relabels every n-second chunk of the training clips with soft labels; a student is trained on the chunks
with ``alpha BCE(student, y_PSL) + (1 - alpha) BCE(student, y_weak)``; clip scores are chunk scores averaged.
The analysis of section 4.3 is in :mod:`~wlbench_baselines.dinkel2022.analysis`.
"""
