"""Schemathesis hooks for the fuzz tests (loaded through SCHEMATHESIS_HOOKS).

A pagination cursor is opaque: the only cursor a client can make up by itself is none (or the empty
one, which also means "the first page"); real cursors come from `next_cursor`, which the stateful
phase follows through the OpenAPI links. Random strings of the cursor alphabet are invalid input,
which the negative phase still sends and which must get a 422.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from app.core.pagination import CURSOR_FORMAT

schemathesis.openapi.format(CURSOR_FORMAT, st.just(""))
