"""One message table per language besides English (which lives in gptlab.course.messages and the checks)."""
