"""Fonseca, Hershey, Plakal, Ellis, Jansen, Moore, Serra, "Addressing missing labels in large-scale sound event
recognition using a teacher-student framework with loss masking" (IEEE SPL 2020; arXiv 2005.00878).

A teacher trained on the observed labels scores every training clip; per class, the top p % of the implicit
negatives are flagged (:mod:`~wlbench_baselines.fonseca2020.masking`) and the student's BCE ignores their negative
term. Inputs are 0.96 s patches with 50 % overlap; a clip's score is the mean of its patch scores.
"""
