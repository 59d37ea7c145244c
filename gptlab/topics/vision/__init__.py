"""Lesson 13: a vision transformer and a pixel GPT (`model`), and scikit-learn's digits as tokens (`data`)."""
