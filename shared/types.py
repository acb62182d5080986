"""Field types shared by the services' schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

# Exact in Python and in the database, a plain JSON number on the wire (clients expect numbers).
JsonDecimal = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
