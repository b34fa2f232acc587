"""The autonomous cycle: detect, decide, act under gates, and log every decision."""
