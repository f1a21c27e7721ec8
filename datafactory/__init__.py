"""datafactory: labelled manipulations of real news, as Parquet, for misinformation detectors."""

__version__ = "0.1.0"
