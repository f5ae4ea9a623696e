"""Scoring models, per-class metrics, the misclassified-digit gallery and the report table."""
