"""The labeling room as the platform sees it: its commands, its portal (a listener of ``openmaker up``) and its sample job."""

from __future__ import annotations

from openmaker.rooms import LazyCommands, Page, Room

SAMPLE_JOB = "smallsample"
SAMPLE_TEAM = "reviewers"


def pages(server) -> list[Page]:
    url = server.url("portal") if "portal" in {listener.name for listener in server.listeners} else None
    if url is None:
        return []
    return [Page("Labeling portal", url, f"bulk label QA: review job '{SAMPLE_JOB}', teams, progress and the QA report")]


def portal_app(server):
    from openmaker.labeling.portal import create_portal_app

    return create_portal_app(base_url=server.settings.portal_url)


async def samples(server) -> list[str]:
    """The ``smallsample`` bulk-QA job, shared with team ``reviewers``, and a demo admin to sign in with."""
    import asyncio

    from openmaker.labeling.demo import ensure_demo

    try:
        notes = await asyncio.to_thread(ensure_demo, server.settings, server.url("portal"))
    except Exception as exc:  # the rest of the platform still comes up
        return [f"labeling sample skipped: {exc}"]
    return notes


room = Room(
    name="labeling",
    title="Labeling",
    description="Human review jobs: bulk label QA with teams, a worker portal, consolidation and a QA report.",
    commands=LazyCommands("openmaker.labeling.cli"),
    pages=pages,
    samples=samples,
    apps=[("portal", portal_app, "portal_port")],
)
