"""Every repository-, job- and blob-scoped endpoint against owner, writer, reader, stranger and anonymous,
on a private and on a public repository."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.audio import tone
from tests.e2e.conftest import Api

pytestmark = pytest.mark.slow
ROLES = ("anonymous", "stranger", "reader", "writer", "owner")


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    # "read", "write" or "admin" on the repository; "owner" for things only their owner sees.
    access: str
    body: Callable[[str], dict] | None = None
    params: dict | None = None
    # What the owner gets where success is not 2xx (cancelling a finished job).
    owner_status: int | None = None


def expected(endpoint: Endpoint, role: str, public: bool) -> str:
    """Without a token only reads are possible, and a private repository does not exist (never 401 for it)."""
    if endpoint.access == "owner":
        if role == "anonymous":
            return "401"
        return str(endpoint.owner_status or "2xx") if role == "owner" else "404"
    if role == "anonymous":
        if endpoint.method != "GET":
            return "401"
        return "2xx" if public else "404"
    if role == "stranger" and not public:
        return "404"
    allowed = {
        "stranger": {"read"},
        "reader": {"read"},
        "writer": {"read", "write"},
        "owner": {"read", "write", "admin"},
    }[role]
    return "2xx" if endpoint.access in allowed else "403"


def observed(status: int) -> str:
    return "2xx" if 200 <= status < 300 else str(status)


def repository_endpoints(repo: str, visibility: str, blob: str, root: str, guest: str) -> list[Endpoint]:
    """Everything scoped to one repository (or a blob only it holds)."""
    return [
        Endpoint("get repository", "GET", f"/api/repositories/{repo}", "read"),
        Endpoint(
            "update repository",
            "PATCH",
            f"/api/repositories/{repo}",
            "admin",
            body=lambda role: {"description": f"edited by {role}"},
        ),
        Endpoint("list collaborators", "GET", f"/api/repositories/{repo}/collaborators", "read"),
        Endpoint(
            "add collaborator",
            "PUT",
            f"/api/repositories/{repo}/collaborators/{guest}",
            "admin",
            body=lambda role: {"role": "read"},
        ),
        Endpoint("history", "GET", f"/api/vcs/history/{repo}", "read"),
        Endpoint("log", "GET", f"/api/vcs/repos/{repo}/log", "read"),
        Endpoint("commit in repository", "GET", f"/api/vcs/commit/{root}", "read", params={"repo_id": repo}),
        Endpoint("commit", "GET", f"/api/vcs/commit/{root}", "read"),
        Endpoint("branches", "GET", f"/api/vcs/repos/{repo}/branches", "read"),
        Endpoint("tags", "GET", f"/api/vcs/repos/{repo}/tags", "read"),
        Endpoint("diff", "GET", f"/api/vcs/repos/{repo}/diff", "read", params={"base": "main", "head": "feature"}),
        Endpoint(
            "create commit",
            "POST",
            f"/api/vcs/commit/{repo}",
            "write",
            body=lambda role: {"message": role, "branch": f"by-{role}", "stems": [{"name": "loop", "blob_id": blob}]},
        ),
        Endpoint(
            "create branch",
            "POST",
            f"/api/vcs/repos/{repo}/branches",
            "write",
            body=lambda role: {"name": f"branch-{role}"},
        ),
        Endpoint(
            "create tag",
            "POST",
            f"/api/vcs/repos/{repo}/tags",
            "write",
            body=lambda role: {"name": f"tag-{role}", "target": "main"},
        ),
        Endpoint("merge", "POST", f"/api/vcs/repos/{repo}/merge", "write", body=lambda role: {"source": "v1"}),
        Endpoint(
            "fork",
            "POST",
            "/api/vcs/fork",
            "read",
            body=lambda role: {"original_repo_id": repo, "fork_name": f"fork {role} {visibility}"},
        ),
        Endpoint("download blob", "GET", f"/api/audio/download/{blob}", "read"),
        Endpoint("analyse blob", "POST", "/api/ai/analyze-audio", "read", params={"blob_id": blob}),
        Endpoint("delete repository", "DELETE", f"/api/repositories/{repo}", "admin"),
    ]


async def test_authorisation_matrix(api: Api):
    http = api.client
    users = {role: await api.user(role) for role in ("owner", "writer", "reader", "stranger")}
    guest = await api.user("guest")  # whom the owner adds as a collaborator (never one of the roles)
    owner = users["owner"].headers
    repositories = {}
    for visibility, frequency in (("private", 330.0), ("public", 550.0)):
        repo = (
            await http.post(
                "/api/repositories/create",
                json={"name": f"Matrix {visibility}", "is_public": visibility == "public"},
                headers=owner,
            )
        ).json()["id"]
        # Audio of its own, so that the private repository's blob is reachable through it alone.
        blob = (
            await http.post(
                "/api/audio/upload", files={"file": ("t.wav", tone(0.3, frequency), "audio/wav")}, headers=owner
            )
        ).json()["blob_id"]
        root = (
            await http.post(
                f"/api/vcs/commit/{repo}",
                json={"message": "root", "stems": [{"name": "loop", "blob_id": blob}]},
                headers=owner,
            )
        ).json()["id"]
        await http.post(f"/api/vcs/repos/{repo}/branches", json={"name": "feature"}, headers=owner)
        await http.post(f"/api/vcs/repos/{repo}/tags", json={"name": "v1", "target": "main"}, headers=owner)
        for role, level in (("reader", "read"), ("writer", "write")):
            await http.put(
                f"/api/repositories/{repo}/collaborators/{users[role].username}", json={"role": level}, headers=owner
            )
        repositories[visibility] = repository_endpoints(repo, visibility, blob, root, guest.username)
    job = (await http.post("/api/ai/generate", json={"prompt": "house", "duration": 5}, headers=owner)).json()
    async with http.stream("GET", f"/api/jobs/{job['task_id']}/events", headers=owner) as events:
        async for _ in events.aiter_lines():
            pass
    jobs = [
        Endpoint("job status", "GET", f"/api/ai/status/{job['task_id']}", "owner"),
        Endpoint("job", "GET", f"/api/jobs/{job['task_id']}", "owner"),
        Endpoint("job events", "GET", f"/api/jobs/{job['task_id']}/events", "owner"),
        Endpoint("cancel job", "POST", f"/api/jobs/{job['task_id']}/cancel", "owner", owner_status=400),
    ]

    mismatches = []
    for visibility, endpoints in (("private", repositories["private"] + jobs), ("public", repositories["public"])):
        for endpoint in endpoints:
            for role in ROLES:
                headers = users[role].headers if role in users else {}
                body = endpoint.body(role) if endpoint.body else None
                response = await http.request(
                    endpoint.method, endpoint.path, json=body, params=endpoint.params, headers=headers
                )
                want = expected(endpoint, role, visibility == "public")
                if observed(response.status_code) != want:
                    mismatches.append(
                        (visibility, endpoint.name, role, response.status_code, want, response.text[:120])
                    )
                if response.status_code >= 400:
                    assert set(response.json()) == {"code", "message", "details"}
    assert mismatches == [], "\n".join(map(str, mismatches))
