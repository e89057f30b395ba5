"""Reading the PBX's call history (PROTOCOL.md §2.1 CSV, §2.2 JSON) into `HistoryCall`s, and the
`history` webhook each one would have been."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.telephony import protocol
from core.telephony.pbx_client import PbxClient
from core.telephony.pbx_history import NotAHistory, read_csv, read_rest, read_start

GRAVITEL_LINE = (  # PROTOCOL.md §2.1, word for word, with a 10th column (rating) added
    "a252179d-fa9b-4b2a-9f4a-05c61af0639f,out,+79002445949,admin@ats23.gravitel.ru,"
    "+74996861574,2017-07-07T16:14:08+03:00,0,11,,4"
)


def test_the_legacy_csv_reads_as_the_webhooks_the_pbx_would_have_sent() -> None:
    text = "\r\n".join(
        [
            GRAVITEL_LINE,
            "m1,missed,+79161234567,ivr,+74950000000,2026-04-05T12:00:00Z,25,0,",
            "i1,in,+79161234567,ivanov@vats.example,+74950000000,2026-04-05T12:01:00Z,3,60,"
            "https://records.megapbx.ru/record/x.mp3",
            "o2,out,+79161234567,ivanov@vats.example,,2026-04-05T12:02:00Z,0,0,",
            "broken,sideways,+7916,nobody,,never,,,",
            "",
        ]
    )
    history = read_csv(text)
    assert history.unreadable == 1
    out, missed, answered, unanswered = history.calls
    assert out.start == datetime(2017, 7, 7, 13, 14, 8, tzinfo=UTC)  # +03:00 → UTC
    assert (out.direction, out.status, out.phone, out.rating) == (
        "out",
        "Success",
        "79002445949",
        4,
    )
    assert out.telnum == "74996861574" and out.diversion == ""
    assert (missed.direction, missed.status, missed.user) == ("in", "Missed", "ivr")
    assert unanswered.status == "Cancel"  # an outbound call nobody answered (PROTOCOL.md §6.1)
    hook = protocol.parse(answered.webhook_fields())
    assert hook.cmd == protocol.Command.HISTORY and hook.callid == "i1"
    assert (hook.status, hook.direction, hook.user) == ("Success", "in", "ivanov")
    assert (hook.phone, hook.diversion, hook.duration, hook.wait) == (
        "79161234567",
        "74950000000",
        60,
        3,
    )
    assert hook.start == datetime(2026, 4, 5, 12, 1, tzinfo=UTC)
    assert hook.link == "https://records.megapbx.ru/record/x.mp3"


def test_rest_json_reads_lowercase_statuses_and_skips_what_cannot_be_read() -> None:
    body = [
        {
            "uid": "r1",
            "type": "in",
            "status": "no_answer",
            "client": "79161234567",
            "user": "g_sales",
            "group_name": "Отдел продаж",
            "start": "2026-04-05T12:00:00Z",
            "wait": 10,
            "duration": 0,
            "record": None,
            "rating": None,
        },
        {
            "uid": "r2",
            "type": "out",
            "status": "not_available",
            "client": "+7 916 123-45-67",
            "user": "ivanov",
            "start": "20260405T120500Z",
            "wait": "2",
            "duration": "0",
        },
        {"uid": "r3", "type": "in", "status": "success", "start": "yesterday"},
        # no call began then; its local time of day would overflow on every page showing it
        {"uid": "r4", "type": "in", "status": "success", "start": "9999-12-31T23:59:59Z"},
        {"uid": "r5", "type": "in", "status": "success", "start": "0001-01-01T00:00:00+03:00"},
        "not a call",
    ]
    history = read_rest(body)
    assert history.unreadable == 4
    missed, busy = (protocol.parse(c.webhook_fields()) for c in history.calls)
    assert (missed.status, missed.group_name, missed.wait) == ("Missed", "Отдел продаж", 10)
    assert (busy.status, busy.phone) == ("NotAvailable", "79161234567")


@pytest.mark.parametrize("body", [None, {"message": "ok"}, "[]", 42])
def test_a_reply_that_is_not_a_list_is_not_a_history(body: object) -> None:
    with pytest.raises(NotAHistory):
        read_rest(body)


@pytest.mark.parametrize("text", ["<html><body>502</body></html>", '{"error": "x"}', "a,b\r\nc"])
def test_text_that_is_not_the_csv_is_not_a_history(text: str) -> None:
    with pytest.raises(NotAHistory):
        read_csv(text)


def test_an_empty_csv_is_a_day_without_calls() -> None:
    assert read_csv("").calls == [] and read_csv("\r\n").unreadable == 0


def test_a_byte_order_mark_is_no_part_of_the_first_uid() -> None:
    """Else the first call of the reply is another call than its webhook's: restored twice."""
    [call] = read_csv("\ufeff" + GRAVITEL_LINE).calls
    assert call.uid == "a252179d-fa9b-4b2a-9f4a-05c61af0639f"


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
@pytest.mark.anyio
async def test_a_long_history_is_read_whole_whichever_order_the_pbx_lists_it(
    newest_first: bool,
) -> None:
    """Neither API promises an order: paging by 500 reads 1,234 calls of a day each once, and
    gives them oldest first, whether the PBX lists the oldest or the newest first (an injected
    transport; the real HTTP path to our simulator is in tests/web/test_reconciliation.py)."""
    day = datetime(2026, 4, 5, tzinfo=UTC)
    records: list[dict[str, str | int]] = [
        {
            "uid": f"c{i}",
            "type": "in",
            "status": "success",
            "client": "79161234567",
            "start": (day + timedelta(minutes=i // 2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": 5,
        }
        for i in range(1234)  # two calls a second: a page may end between them
    ]
    asked: list[tuple[datetime, datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        start, end = (protocol.parse_start(params[k]) for k in ("start", "end"))
        asked.append((start, end))
        found = [r for r in records if start <= read_start(r["start"]) <= end]
        found.sort(key=lambda r: str(r["start"]), reverse=newest_first)
        return httpx.Response(200, json=found[: int(params["limit"])])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    pbx = PbxClient(http, "https://vats123456.megapbx.ru", "secret")
    history = await pbx.history(day, day + timedelta(days=1))
    assert sorted(c.uid for c in history.calls) == sorted(str(r["uid"]) for r in records)
    starts = [c.start for c in history.calls]
    assert starts == sorted(starts)  # applied as they happened: a callback after its miss
    assert history.unreadable == 0 and len(asked) == 3
