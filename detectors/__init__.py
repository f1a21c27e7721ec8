"""Detector training and cross-dataset evaluation on datafactory outputs (to come)."""
