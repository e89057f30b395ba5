"""Bot reactions: a message's text, in any of its variants, queues the reaction's actions."""

import pytest

from core import dialogs, reactions
from core.errors import ValidationError
from tests.support import builders

pytestmark = pytest.mark.anyio


def test_a_pattern_lists_variants_and_matches_whole_texts_in_any_case():
    pattern = "megafon_call_status Missed; megafon_call_status Busy ;"
    assert reactions.variants(pattern) == ["megafon_call_status missed", "megafon_call_status busy"]
    assert reactions.matches(pattern, " MEGAFON_CALL_STATUS MISSED ")
    assert reactions.matches(pattern, "megafon_call_status Busy")
    assert not reactions.matches(pattern, "megafon_call_status Success")
    assert not reactions.matches(pattern, "megafon_call_status Missed twice")


async def test_a_message_queues_a_job_for_each_active_reaction_it_matches(db):
    ids = await builders.call_center(db)
    project = ids["project"]
    missed = await reactions.save_reaction(db, project, "megafon_call_status Missed", "x = 1")
    await reactions.save_reaction(
        db, project, "megafon_call_status Missed", "y = 2", is_active=False
    )
    await reactions.save_reaction(db, project, "megafon_call_status Busy", "z = 3")
    await dialogs.add_message(
        db, project, ids["maria"], dialogs.MessageKind.SYSTEM, "megafon_call_status Missed"
    )
    [job] = await reactions.recent_jobs(db, project)
    assert job["reaction_id"] == missed
    assert job["state"] == "pending"


async def test_a_reaction_needs_a_text_and_valid_actions(db):
    admin = await builders.admin(db)
    with pytest.raises(ValidationError) as refused:
        await reactions.save_reaction(db, admin["project_id"], " ; ", "")
    assert set(refused.value.errors) == {"pattern", "actions"}
