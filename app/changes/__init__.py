"""The change feed: published, updated and unpublished drugs in commit order."""
