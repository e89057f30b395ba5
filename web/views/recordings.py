"""A call's recording as the CRM keeps it (core/telephony/recordings.py), for the players."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from core.errors import NotFound
from core.i18n import gettext as _
from core.telephony import recordings
from web.auth import login_required

log = logging.getLogger("crm.recordings")


@login_required
async def recording(request: Request) -> Response:
    """The stored audio of a call of the employee's project, with HTTP Range for seeking."""
    settings = request.state.settings.recordings
    found = await recordings.get(
        request.state.db, request.state.user["project_id"], request.path_params["call_id"]
    )
    path = recordings.file_of(settings, found) if settings and found else None
    if found is not None and path is None and found["state"] == recordings.State.STORED:
        # Stored, yet not in this host's RECORDINGS_DIR (not the shared folder, or removed by
        # hand): the player gets the PBX's link, as while the copy was on its way.
        log.warning("recording of call %s is not in RECORDINGS_DIR", found["call_id"])
        if found["source_url"].startswith(("https://", "http://")):
            return RedirectResponse(found["source_url"], status_code=307)
    if found is None or path is None:
        raise NotFound(_("Записи этого звонка нет."))
    return FileResponse(
        path,
        media_type=recordings.media_type(found),
        filename=path.name,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=86400"},
    )
