"""Semi-supervised triplet sampling (Turpault, Serizel, Vincent, ICASSP 2019): the sampling strategies S1-S5
of its Table 1, the anchor transformations, exact nearest neighbours in the input space, semi-hard mining,
the triplet loss of eq. 1, and the paper's networks. See docs/baselines.md."""
