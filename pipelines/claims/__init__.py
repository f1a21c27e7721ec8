"""Claim edits: numbers, polarity, attribution."""
