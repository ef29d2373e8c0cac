"""Reliability tier: faults, crashes, a storage outage, generated bad input and load, counted end to end."""
