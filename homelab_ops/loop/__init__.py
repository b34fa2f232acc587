"""The autonomous operations loop: detect, decide, act under gates, tell, and log
every decision."""
