"""The sync protocol: everything the change of an issue or the arrival of a replica
triggers, stage by stage (docs/architecture.md has the list)."""
