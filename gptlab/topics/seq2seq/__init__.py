"""Lesson 11: an encoder–decoder with cross-attention (`model`) and its dates-in-words data (`data`)."""
