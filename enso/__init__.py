"""enso: benchmark transfer learning for NLP on small labelled datasets."""

__version__ = "0.1.0"
