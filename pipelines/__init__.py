"""The manipulation stages and the shipped pipeline configs (``*.yaml`` beside this file).

Each stage is one module that registers itself with :mod:`datafactory.registry`.
"""
