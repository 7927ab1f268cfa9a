"""The teacher / student core of two baselines: pseudo strong labels (Dinkel et al., ICASSP 2022) and loss
masking for missing labels (Fonseca et al., 2020).

* :mod:`~wlbench_baselines.teacher_student.windows`: clips -> chunks (hop = length) or overlapping patches, batching
  by length, window scores pooled back to clips.
* :mod:`~wlbench_baselines.teacher_student.nets`: the decision-level pooling tagger (frame sigmoids averaged).
* :mod:`~wlbench_baselines.teacher_student.relabel`: scoring windows; relabelling by a frozen teacher.
* :mod:`~wlbench_baselines.teacher_student.losses`: BCE split into its two terms; the PSL / teacher-student loss.
* :mod:`~wlbench_baselines.teacher_student.averaging`: top-k checkpoints and their weight average.
* :mod:`~wlbench_baselines.teacher_student.augment`: SpecAugment masks (torchaudio) and mixup for the teacher.
* :mod:`~wlbench_baselines.teacher_student.subsets`: nested, seeded training subsets (students vs teacher, tr_small).
"""
