"""Tri-training with adversarial domain adaptation for sound event detection (Park et al., DCASE 2019).

Phase 1 of the port (no framework dependency): gradient reversal and its schedule (:mod:`.grl`), the
networks (:mod:`.nets`), the losses and the orthogonality penalty (:mod:`.losses`), what may enter a loss
(:mod:`.targets`), pseudo-labelling by agreement (:mod:`.pseudo`), role-composed batches (:mod:`.sampling`)
and the loss of a mini-batch in each phase (:mod:`.steps`). See docs/baselines.md.
"""
