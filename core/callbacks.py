"""The `callback` API method: a message for the bot, unseen by the client, in its dialog.

As in Salebot, the client is named by `client_id` or `client_phone` (found by the same rule
as a caller: see core.matching); every other parameter is saved as a client variable, within
`core.variables`' limits; the telephony integration's own (`megafon_…`) are not the API's to set.
"""

from __future__ import annotations

from collections.abc import Mapping

from core import dialogs, matching, phones, variables
from core.clients import get_client
from core.db import Database
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _

RESERVED = {"client_id", "client_phone", "message"}


async def callback(db: Database, project_id: int, params: Mapping[str, str]) -> dialogs.Message:
    text = params.get("message", "").strip()
    if not text:
        raise ValidationError.single("message", _("Не указан текст колбэка (message)."))
    client_id: int | None
    if params.get("client_id", "").strip().isdigit():
        client_id = (await get_client(db, project_id, int(params["client_id"])))["id"]
    elif params.get("client_phone", "").strip():
        digits = phones.parse(params["client_phone"], field="client_phone")
        client_id = await matching.find_client(db, project_id, digits)
        if client_id is None:
            raise NotFound(_("Клиент с таким телефоном не найден."))
    else:
        raise ValidationError.single("client_id", _("Укажите client_id или client_phone."))
    extra = {k: v for k, v in params.items() if k not in RESERVED}
    system = sorted(k for k in extra if not variables.searched(k))
    if system:
        raise ValidationError.single(
            system[0],
            _("Переменные megafon_… задаёт интеграция с АТС, через API их менять нельзя."),
        )
    async with db.transaction():
        if extra:
            await variables.set_variables(db, project_id, client_id, extra)
        return await dialogs.add_message(
            db, project_id, client_id, dialogs.MessageKind.SYSTEM, text
        )
