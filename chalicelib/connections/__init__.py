"""Connections between nodes: invitation codec, keys, node-API tokens, lifecycle."""
