"""The small GPT the course ships (shipped.safetensors); load it with gptlab.io.load("shipped").

See README.md in this folder for how it was trained and how to reproduce it.
"""
