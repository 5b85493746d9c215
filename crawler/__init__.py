"""Oversight's application: the crawler, the archive, the runs and the `oversight` CLI."""
