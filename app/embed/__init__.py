"""Embeddable widgets for clinic portals."""
