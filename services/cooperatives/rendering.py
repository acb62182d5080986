"""JSON for plots with each coordinate written exactly as it was registered.

A JSON encoder turns ``-76.360100`` into ``-76.3601``; the EUDR asks for six decimals, so a plot
read back and sent on (to a buyer, to the EU information system) must keep the surveyed digits.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi.responses import JSONResponse

from services.cooperatives.schemas import PlotOrigin, PlotRead
from shared.pagination import Page


class PlotJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        # Each geometry is swapped for an unguessable token, then the stored GeoJSON text replaces it.
        nonce = secrets.token_hex(16)
        verbatim: dict[str, str] = {}

        def dump(plot: PlotRead) -> dict[str, Any]:
            data = plot.model_dump(mode="json")
            if plot._geometry_text is not None:
                token = f"{nonce}-{len(verbatim)}"
                verbatim[json.dumps(token)] = plot._geometry_text
                data["geometry"] = token
            return data

        if isinstance(content, PlotRead):
            body: Any = dump(content)
        elif isinstance(content, PlotOrigin):
            body = {
                "plot": dump(content.plot),
                "farmer": content.farmer.model_dump(mode="json"),
                "cooperative": content.cooperative.model_dump(mode="json"),
            }
        elif isinstance(content, Page):
            body = {"items": [dump(p) for p in content.items], "next": content.next}
        else:
            body = content
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        for token, geometry in verbatim.items():
            text = text.replace(token, geometry, 1)
        return text.encode("utf-8")
