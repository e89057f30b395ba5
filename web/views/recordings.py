"""A call's recording as the CRM keeps it (core/telephony/recordings.py), for the players."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from core.errors import NotFound
from core.i18n import gettext as _
from core.telephony import recordings
from web.auth import login_required


@login_required
async def recording(request: Request) -> Response:
    """The stored audio of a call of the employee's project, with HTTP Range for seeking."""
    settings = request.state.settings.recordings
    found = await recordings.get(
        request.state.db, request.state.user["project_id"], request.path_params["call_id"]
    )
    path = recordings.file_of(settings, found) if settings and found else None
    if found is None or path is None:
        raise NotFound(_("Записи этого звонка нет."))
    return FileResponse(
        path,
        media_type=recordings.media_type(found),
        filename=path.name,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=86400"},
    )
