"""Approving a run that waits at `pause: approval`: who sees the button, who may press it.

The approval itself (the run going on) is in tests/browser, against a real server.
"""

from __future__ import annotations

from tests.web.conftest import Web, login

WAITING = [{"name": "plan"}, {"name": "set v2 to 50%"},
           {"name": "wait for approval (up to 1h)", "state": "running"}]


def test_the_button_shows_to_an_approver_only_while_the_run_waits(users: Web) -> None:
    waiting = users.add_run(environment="production", steps=WAITING)
    pausing = users.add_run(environment="production", service="api",
                            steps=[{"name": "pause 4s", "state": "running"}])
    approved = users.add_run(environment="production", service="worker", status="succeeded",
                             steps=[*WAITING[:2], {"name": "wait for approval"}])
    login(users, "lead")
    assert 'id="approve-run"' in users.client.get(f"/runs/{waiting}").text
    assert 'id="approve-run"' in users.client.get(f"/runs/{waiting}/live").text
    assert f'action="/runs/{waiting}/approve"' in users.client.get(f"/runs/{waiting}").text
    for other in (pausing, approved):
        assert 'id="approve-run"' not in users.client.get(f"/runs/{other}").text
    users.client.cookies.clear()
    login(users, "dev")  # deployer on staging, viewer on production
    assert 'id="approve-run"' not in users.client.get(f"/runs/{waiting}").text


def test_a_forged_approval_by_a_deployer_or_a_viewer_is_refused(users: Web) -> None:
    staging = users.add_run(environment="staging", steps=WAITING)
    production = users.add_run(environment="production", steps=WAITING)
    token = login(users, "dev")
    assert 'id="approve-run"' not in users.client.get(f"/runs/{staging}").text
    assert 'id="cancel-run"' in users.client.get(f"/runs/{staging}").text  # a deployer there
    for confirm in ("", "yes"):
        resp = users.client.post(f"/runs/{staging}/approve",
                                 data={"csrf_token": token, "confirm": confirm})
        assert resp.status_code == 403
        assert "needs approver on staging" in resp.text
    users.client.cookies.clear()
    token = login(users, "viewer")
    resp = users.client.post(f"/runs/{production}/approve",
                             data={"csrf_token": token, "confirm": "yes", "comment": "lgtm"})
    assert resp.status_code == 403
    assert "needs approver on production" in resp.text


def test_an_approval_needs_the_session_csrf_token(users: Web) -> None:
    run_id = users.add_run(environment="production", steps=WAITING)
    login(users, "lead")
    for data in ({"confirm": "yes"}, {"confirm": "yes", "csrf_token": "forged"}):
        resp = users.client.post(f"/runs/{run_id}/approve", data=data)
        assert resp.status_code == 403
        assert "CSRF" in resp.text


def test_an_approval_is_confirmed_with_an_optional_comment(users: Web) -> None:
    run_id = users.add_run(environment="production", steps=WAITING)
    token = login(users, "lead")
    resp = users.client.post(f"/runs/{run_id}/approve", data={"csrf_token": token})
    assert resp.status_code == 200
    html = resp.text
    assert f"Approve run {run_id}?" in html
    assert "stops waiting at “wait for approval (up to 1h)”" in html
    assert "recorded as approved by lead" in html
    assert '<textarea name="comment"' in html
    assert 'name="confirm" value="yes"' in html


def test_approving_a_run_that_does_not_wait_says_why(web: Web) -> None:
    run_id = web.add_run(steps=[{"name": "pause 4s", "state": "running"}])
    resp = web.client.post(f"/runs/{run_id}/approve", data={"csrf_token": web.csrf()})
    assert resp.status_code == 409
    assert f"run {run_id} is not waiting for an approval" in resp.text
    assert 'id="form-error"' in resp.text and 'id="confirm"' not in resp.text


def test_at_an_environments_approvals_the_requester_sees_no_buttons(users: Web) -> None:
    four_eyes = [{"name": "plan"}, {"name": "wait for approval from others: 1 needed, not "
                                            "lead (up to 1d)", "state": "running"}]
    own = users.add_run(environment="production", steps=four_eyes, actor="lead")
    theirs = users.add_run(environment="production", service="api", steps=four_eyes,
                           actor="dev")
    token = login(users, "lead")
    page = users.client.get(f"/runs/{own}").text
    assert 'id="approve-run"' not in page and 'id="reject-run"' not in page
    forged = users.client.post(f"/runs/{own}/approve", data={"csrf_token": token,
                                                              "confirm": "yes"})
    assert forged.status_code == 409
    assert "lead asked for this deploy and cannot approve or reject it" in forged.text
    page = users.client.get(f"/runs/{theirs}").text
    assert 'id="approve-run"' in page and 'id="reject-run"' in page


def test_a_rejection_is_reviewed_with_a_required_reason(users: Web) -> None:
    run_id = users.add_run(environment="production", steps=WAITING)
    token = login(users, "lead")
    review = users.client.post(f"/runs/{run_id}/reject", data={"csrf_token": token})
    assert review.status_code == 200
    assert "Reject run" in review.text and "Why (required, recorded)" in review.text
    assert "fails at “wait for approval (up to 1h)”, before it touches anything" in review.text
    empty = users.client.post(f"/runs/{run_id}/reject",
                              data={"csrf_token": token, "confirm": "yes", "comment": ""})
    assert empty.status_code == 400
    assert "say why you reject it" in empty.text
