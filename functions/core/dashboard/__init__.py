"""The operator's dashboard: catalog counts, skills with their versions and deployments, recent gate
decisions, and make-skill jobs, served next to the review page by the same API (the top layer: it
reads the catalog, the skill registry, deployments and the gate log)."""
