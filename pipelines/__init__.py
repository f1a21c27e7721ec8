"""The stages (floor 1) and the shipped pipeline configs (``*.yaml`` beside this file).

- :mod:`pipelines.stages`: one module per manipulation, found by name through the entry points
  of group ``datafactory.stages`` (see :mod:`datafactory.registry`)
- :mod:`pipelines.entities`: entity_swap's bank, gazetteer, referents and junk rules
- :mod:`pipelines.generation`: decoding strategies (sampling, beam, PPL-MCTS, rerank),
  discriminators, generator fine-tuning
- :mod:`pipelines.images`: CLIP and sentence encoders, embedding index, image matching rules
"""
