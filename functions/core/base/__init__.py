"""What every capability shares: records, the catalog, storage, artifacts, resource names, clients, versions."""
