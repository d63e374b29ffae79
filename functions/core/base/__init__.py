"""What every capability shares: records, catalog, storage, artifacts, resource names, clients, versions."""
