"""Detectors trained on datafactory outputs (and on any labelled corpus).

- :mod:`detectors.data`: labelled texts from a build or a .jsonl/.csv/.parquet file
- :mod:`detectors.tfidf`: the TF-IDF + logistic regression baseline
- :mod:`detectors.transformer`: a fine-tuned ``AutoModelForSequenceClassification``
- :mod:`detectors.train`: train with a held-out split grouped by story, save a detector folder
- :mod:`detectors.store`: detector folders (card, hash check, safe skops loading)

- :mod:`detectors.clip_pairs`: image–caption pairs from frozen CLIP features Nothing heavy is
imported here, so that ``import detectors`` works without the ``detect`` extra.
"""

#: Detector kinds a ``detector_card.json`` may name, and the class that loads each.
KINDS = {"tfidf": "detectors.tfidf.TfidfDetector", "transformer": "detectors.transformer.TransformerDetector",
         "clip": "detectors.clip_pairs.ClipPairDetector"}
