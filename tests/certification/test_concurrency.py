"""Status changes race safely: two certifiers suspending at once leave one suspension in the history."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.certification.calls import HeadersFor, certificate_body, create_body, new_plot
from tests.factories import create_origin
from tests.lots.test_concurrency import fresh_platform


async def test_concurrent_suspensions_record_one_and_refuse_the_other(
    backend: str, tmp_path: Path, signing_key_pem: str, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    async with fresh_platform(backend, tmp_path, signing_key_pem) as env:
        api = env.api
        origin = await create_origin(api, admin_headers, headers_for)
        origin.plot = await new_plot(api, origin)
        body = await create_body(api, admin_headers, headers_for)
        issued = await api.post(
            "/api/v1/certificates", json=certificate_body(body, origin), headers=body.certifier
        )
        assert issued.status_code == 201, issued.text
        path = f"/api/v1/certificates/{issued.json()['id']}/suspend"

        answers = await asyncio.gather(
            *(api.post(path, json={"reason": f"finding {i}"}, headers=body.certifier) for i in range(4))
        )

        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [a.text for a in answers]
        read = await api.get(f"/api/v1/certificates/{issued.json()['id']}", headers=body.certifier)
        assert [e["action"] for e in read.json()["history"]] == ["issue", "suspend"]
