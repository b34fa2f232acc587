"""Recommend: from a task or incident in plain words to the skills that handle it
(catalogue, classifier, learning from outcomes, the hand-off from ``ask``)."""
