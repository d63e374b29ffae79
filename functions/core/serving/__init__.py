"""Serving: the deployed skill cascade (detector, crop, skills) with the versions of every stage."""
