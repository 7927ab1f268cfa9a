"""The dataset layer: one HDF5 file (or a sharded index) per rendered dataset, its ids, and what a trainer may
read of it. Modules, bottom to top (each imports only those above it in this list)::

    layout         format constants, attribute values, split names
    labels         weak, frame, window and chunk labels from an event table (pure numpy)
    ids            spec id, truth ids, content id (schemes 1 and 2)
    schema         the structure check every open runs (shards included); reads metadata only
    writer         DatasetWriter: one file or a sharded index, atomic, hashed while written
    shards         shard planning and the shard writer of a sharded render
    reader         open_dataset -> Dataset -> Split, with segment, label and resolution views
    training_data  what a trainer may see of a split under one label condition
    inspect        verify (recompute every id, check content) and the summary of `wlbench info`
    intact         training reads only what verify passes, checked once per file version

Import from the submodules; the names below are the common entry points.
"""

from wlbench.dataset.ids import compute_content_id, compute_split_truth_id, dataset_truth_id, spec_id
from wlbench.dataset.reader import Dataset, Split, open_dataset
from wlbench.dataset.training_data import TrainingData, training_data
from wlbench.dataset.writer import DatasetWriter, SplitShape

__all__ = ["Dataset", "DatasetWriter", "Split", "SplitShape", "TrainingData", "compute_content_id",
           "compute_split_truth_id", "dataset_truth_id", "open_dataset", "spec_id", "training_data"]
