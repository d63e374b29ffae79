"""Dataset: spec, group-aware split, balance, extraction with lineage, candidate registration."""
