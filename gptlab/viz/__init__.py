"""Plotting helpers for the lessons: one module per topic (`gptlab.viz.tokens`, ...)."""
