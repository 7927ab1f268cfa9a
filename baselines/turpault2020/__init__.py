"""The three methods of Turpault, Serizel, Vincent, "Limitations of weak labels for embedding and tagging"
(ICASSP 2020): an end-to-end classifier, a triplet network and a prototypical network, sharing the
embedding network E (CNN on 200 ms patches, patch embeddings averaged over time) and the classifier G
(FC 32, LeakyReLU, one sigmoid output per class).

Entry points: ``turpault-classifier``, ``turpault-triplet``, ``turpault-protonet``.
"""

from wlbench_baselines.turpault2020.methods import CLASSIFIER, PROTONET, TRIPLET, Classifier, Protonet, Triplet

__all__ = ["CLASSIFIER", "TRIPLET", "PROTONET", "Classifier", "Triplet", "Protonet"]
