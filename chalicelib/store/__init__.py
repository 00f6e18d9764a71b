"""DynamoDB storage (PynamoDB models) of one node."""
