"""The GPTs the course ships: shipped.safetensors (gptlab.io.load("shipped"), 6 layers, 5.3 M parameters) and
small.safetensors (gptlab.io.load("small"), the first shipped model: 4 layers, 1.1 M parameters) and
chat.safetensors (gptlab.io.load("shipped-chat"), the shipped model fine-tuned to follow instructions in the chat
template that `gptlab serve` writes).

See README.md in this folder for how each was trained and how to reproduce it.
"""
