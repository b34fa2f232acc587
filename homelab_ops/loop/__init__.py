"""The autonomous operations loop: detect, decide, act, tell, record."""
