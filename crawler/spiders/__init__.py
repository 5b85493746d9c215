"""Oversight's one spider, driven by the source registry."""
