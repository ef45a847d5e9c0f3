"""Dead letters: list, replay or discard one, or the ones selected."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jobyard_libs.retention import RetentionOut
from jobyard_libs.tasks.replies import DeadLetterOut

from jobyard_console.upstream import UpstreamError
from jobyard_console.web import Changing, SignedIn, list_params, segment, shown

router = APIRouter(tags=["dead letters"])
MAX_SELECTED = 100


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letter_list(page: SignedIn) -> HTMLResponse:
    query = list_params(page.request)
    pager = await page.listing(DeadLetterOut, "/api/v1/dead-letters", query)
    retention = await page.api("GET", "/api/v1/retention", RetentionOut)
    return page.render("dead_letters.html", pager=pager, retention=retention)


@router.post("/dead-letters")
async def act_on_selected(page: Changing) -> Response:
    """``action`` (replay | discard) on each selected id; one failure does not stop the rest."""
    form = await page.request.form()
    action = str(form.get("action", ""))
    one = page.request.query_params.get("one")  # a row's own button
    ids = [segment(one)] if one else [segment(str(v)) for v in form.getlist("id")][:MAX_SELECTED]
    if action not in ("replay", "discard") or not ids:
        return page.back_to("/dead-letters", "Select dead letters, then Replay or Discard.")
    done, failed = 0, []
    for dead_id in ids:
        try:
            if action == "replay":
                await page.api("POST", f"/api/v1/dead-letters/{dead_id}/replay")
            else:
                await page.api("DELETE", f"/api/v1/dead-letters/{dead_id}")
            done += 1
        except UpstreamError as error:
            failed.append(f"{dead_id}: {shown(error)}")
    verb = "Replayed" if action == "replay" else "Discarded"
    return page.back_to(
        "/dead-letters", f"{verb} {done}." + (f" Not done: {'; '.join(failed)[:300]}" if failed else "")
    )
