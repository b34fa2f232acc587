"""Predictions over the stored history: disk exhaustion, memory leaks, forecasts of
any series and the pre-deployment capacity check.

The statistics are pure functions over plain ``(ts, value)`` lists (``disk``,
``memory``, ``forecast``, ``robust``); only ``service`` touches the store. Plain
Python on purpose: the fitted series hold at most a few thousand points, and read
paths such as ``ask`` can import the cached results without pulling in numpy.
"""
