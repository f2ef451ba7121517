"""Content quality signals for editors (reading grade)."""
