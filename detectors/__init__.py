"""Detectors trained on datafactory outputs (and on any labelled corpus).

- :mod:`detectors.base`: what a detector kind offers; kinds are found by name in
  :data:`datafactory.registry.detectors` (entry-point group ``datafactory.detectors``)
- :mod:`detectors.data`: labelled texts from a build or a .jsonl/.csv/.parquet file
- :mod:`detectors.tfidf`: the TF-IDF + logistic regression baseline (kind ``tfidf``)
- :mod:`detectors.transformer`: a fine-tuned ``AutoModelForSequenceClassification`` (``transformer``)
- :mod:`detectors.clip_pairs`: image–caption pairs from frozen CLIP features (``clip``)
- :mod:`detectors.train`: train with a held-out split grouped by story, save a detector folder
- :mod:`detectors.metrics`: accuracy, macro_f1 and roc_auc, as every report names them
- :mod:`detectors.evaluation`: cross-dataset evaluation, augmentation, entity-bias audit,
  generation evaluation and their reports

Detector folders (card, hash check, safe skops loading) are read by
:mod:`datafactory.model_store`. Nothing heavy is imported here, so that ``import detectors``
works without the ``detect`` extra.
"""
