"""Detection: decode an upload safely, find the vehicles, crop them, catalog everything."""
