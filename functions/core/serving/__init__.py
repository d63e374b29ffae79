"""Serving: the deployed skill cascade (detector, crop, skills) with the versions of every stage;
every upload's crops answered through it, and stored crops reprocessed."""
