"""Evaluation and reports (floor 2, beside the detectors): generated-text metrics and judges,
the contact sheet of image pairs, the entity-bias audit, cross-dataset and augmentation
evaluation, heatmaps. Nothing below this floor imports it."""
