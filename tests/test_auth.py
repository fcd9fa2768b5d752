"""Accounts, roles and scopes (issue 27): the one rule, sign-in with lockout and rate limits,
sessions (cookie flags, idle and absolute expiry, sign-out), CSRF, per-account API tokens, the
deprecated shared tokens, and the append-only audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller import accounts, authz
from controller.api import create_app
from controller.auth_config import AuthSettings
from controller.authz import Decision, Principal
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import AlertKey, DeviceInfo, OpenAlert, order_of
from controller.store import Store
from hcc_common import wire
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings

PASSWORD = "mật-khẩu-thật-dài-2026"
LEGACY = "legacy-desk-token-0123456789"
GROUPS = {"ngoai-thanh": frozenset({"tay-ho", "hoan-kiem"})}


# -- the rule, pure ---------------------------------------------------------------------------
def test_roles_in_order_and_scope_before_role() -> None:
    tech_a = authz.principal(name="lan", role="technician", centers=["ba-dinh"], groups=[],
                             group_centers={}, via="session")
    viewer = authz.principal(name="v", role="viewer", centers=[], groups=["ngoai-thanh"],
                             group_centers=GROUPS, via="session")
    desk = authz.principal(name="d", role="desk", centers=["ba-dinh"], groups=[],
                           group_centers={}, via="session")
    assert tech_a.centers == frozenset({"ba-dinh"}) and viewer.centers == GROUPS["ngoai-thanh"]
    assert desk.centers is None  # the desk sees every center, whatever it was given
    assert authz.decide(tech_a, "ack", "ba-dinh") is Decision.ALLOW
    # another center is not there at all, whatever the action
    for action in ("read", "ack", "silence", "users"):
        assert authz.decide(tech_a, action, "tay-ho") is Decision.NOT_FOUND
    assert authz.decide(tech_a, "silence", "ba-dinh") is Decision.FORBIDDEN
    assert authz.decide(viewer, "read", "tay-ho") is Decision.ALLOW
    assert authz.decide(viewer, "ack", "tay-ho") is Decision.FORBIDDEN
    assert authz.decide(desk, "silence", "anywhere") is Decision.ALLOW
    assert authz.decide(desk, "users") is Decision.FORBIDDEN
    admin = Principal(name="a", role="admin", centers=None)
    assert all(authz.allowed(admin, a, "x") for a in authz.ACTIONS)
    assert authz.decide(None, "read") is Decision.FORBIDDEN
    # the whole city's counters only for whoever sees the whole city
    assert authz.decide(tech_a, "metrics") is Decision.FORBIDDEN
    assert authz.decide(desk, "metrics") is Decision.ALLOW
    # a group nobody declared gives nothing, never everything
    ghost = authz.principal(name="g", role="viewer", centers=[], groups=["no-such"],
                            group_centers=GROUPS, via="session")
    assert ghost.centers == frozenset()
    with pytest.raises(ValueError):
        authz.decide(admin, "fly")


# -- a controller with accounts ---------------------------------------------------------------
def fill(store: Store) -> None:
    now = time.time()
    store.write([
        DeviceInfo("ba-dinh", "pi-1", "printer-1", "Máy in quầy 1", "printer", "critical", now,
                   now, 0, {}, (wire.FaultReport("printer.jammed", "critical", {}),),
                   order_of(1, 1)),
        DeviceInfo("tay-ho", "pi-2", "ap-1", "Wi-Fi sảnh", "wifi_ap", "warning", now, now, 0,
                   {}, (), order_of(1, 1)),
        OpenAlert(AlertKey("ba-dinh", "pi-1", "printer-1", "printer.jammed"), "critical",
                  "Máy in quầy 1", {}, now - 60),
        OpenAlert(AlertKey("tay-ho", "pi-2", "ap-1", "ap.no_clients"), "warning",
                  "Wi-Fi sảnh", {}, now - 30),
    ])
    for name, role, centers in (("viewer-a", "viewer", ["ba-dinh"]),
                                ("tech-a", "technician", ["ba-dinh"]),
                                ("desk-1", "desk", []), ("admin-1", "admin", [])):
        accounts.add_account(store.db, name=name, role=role, centers=centers, groups=[],
                             password=PASSWORD, now=now)


def app_for(db: str, auth: AuthSettings | None = None, **http: object) -> TestClient:
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), Path(db) if "://" not in db else db,
                           centers=(CenterInfo("ba-dinh", "Ba Đình", OpeningHours()),
                                    CenterInfo("tay-ho", "Tây Hồ", OpeningHours())),
                           http=HttpSettings(**http),  # type: ignore[arg-type]
                           auth=auth or AuthSettings(groups=GROUPS))
    return TestClient(create_app(cfg, StorePerThread(cfg.db), None))


@pytest.fixture
def env(target: str) -> tuple[TestClient, Store]:
    store = Store(target)
    fill(store)
    return app_for(target, tokens={LEGACY: "old-desk"}), store


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/session", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf"]}


def alert_id(store: Store, center: str) -> int:
    return next(a.id for a in store.alerts() if a.center == center)


def test_a_new_install_reads_nothing_anonymously(env) -> None:
    client, _ = env
    for path in ("/api/v1/alerts", "/api/v1/centers", "/api/v1/agents", "/api/v1/stream",
                 "/api/v1/devices/ba-dinh/printer-1", "/api/v1/report?month=2026-11&format=csv",
                 "/metrics"):
        assert client.get(path).status_code == 401, path
    for page in ("/", "/devices/ba-dinh/printer-1", "/reports"):
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin", page
    assert "Đăng nhập" in client.get("/signin").text
    assert client.get("/status").status_code == 404  # the public view is off unless said


def test_open_reads_and_the_public_status_view_are_explicit_switches(target: str) -> None:
    store = Store(target)
    fill(store)
    client = app_for(target, auth=AuthSettings(public_status=True), read_open=True)
    assert client.get("/api/v1/alerts").status_code == 200
    status = client.get("/api/v1/status").json()
    assert {s["center"] for s in status} == {"ba-dinh", "tay-ho"}
    assert set(status[0]) == {"center", "name", "up"}  # up or down, nothing of the devices
    assert client.post(f"/api/v1/alerts/{alert_id(store, 'ba-dinh')}/ack", json={}
                       ).status_code == 401  # open reads never open writes


def test_session_cookie_is_httponly_strict_and_sign_out_ends_it(env) -> None:
    client, _ = env
    r = client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("hcc_session=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here: a Secure cookie would never come back
    me = client.get("/api/v1/session").json()
    assert me["name"] == "tech-a" and me["role"] == "technician" and me["centers"] == ["ba-dinh"]
    assert me["can"]["ack"] and not me["can"]["silence"]
    session_id = client.cookies.get("hcc_session")
    assert session_id and session_id not in str(env[1].db.execute(
        "SELECT * FROM web_sessions").fetchall())  # only its hash is stored
    headers = {"X-CSRF-Token": me["csrf"]}
    assert client.delete("/api/v1/session", headers=headers).status_code == 200
    client.cookies.set("hcc_session", session_id)  # the old cookie, kept by someone
    assert client.get("/api/v1/session").status_code == 401
    # signing in again replaces the session id (one planted before is worth nothing), and a
    # new password signs everyone out
    client.cookies.clear()
    client.cookies.set("hcc_session", "planted-by-someone-else")
    r = client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD})
    kept = r.cookies.get("hcc_session")
    assert r.status_code == 200 and kept and kept != "planted-by-someone-else"
    client.cookies.clear()
    client.cookies.set("hcc_session", kept)
    assert client.get("/api/v1/session").status_code == 200
    accounts.set_password(env[1].db, "tech-a", PASSWORD + "-mới")
    assert client.get("/api/v1/session").status_code == 401


def test_cookie_is_secure_with_the_host_prefix_over_https(target: str) -> None:
    store = Store(target)
    fill(store)
    client = app_for(target, public_url="https://hcc.example.vn")
    cookie = client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD}
                         ).headers["set-cookie"]
    assert cookie.startswith("__Host-hcc_session=") and "Secure" in cookie


def test_technician_of_a_acts_on_a_and_gets_404_for_b(env) -> None:
    client, store = env
    headers = sign_in(client, "tech-a")
    a, b = alert_id(store, "ba-dinh"), alert_id(store, "tay-ho")
    assert [x["center"] for x in client.get("/api/v1/alerts").json()] == ["ba-dinh"]
    assert [c["center"] for c in client.get("/api/v1/centers").json()] == ["ba-dinh"]
    # B does not exist for A's technician: the same 404 as an id nobody has
    for path in (f"/api/v1/alerts/{b}", "/api/v1/alerts?center=tay-ho",
                 "/api/v1/devices/tay-ho/ap-1", "/api/v1/devices/tay-ho/ap-1/series",
                 "/api/v1/devices/tay-ho/ap-1/history", "/devices/tay-ho/ap-1",
                 "/api/v1/report?month=2026-11&format=csv&center=tay-ho",
                 "/reports?center=tay-ho"):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/v1/alerts/999999").json()["detail"] == "no alert 999999"
    assert client.get(f"/api/v1/alerts/{b}").json()["detail"] == f"no alert {b}"
    assert client.post(f"/api/v1/alerts/{b}/ack", json={}, headers=headers).status_code == 404
    assert store.alert(b).state == "firing"
    r = client.post(f"/api/v1/alerts/{a}/ack", json={"note": "đang đến"}, headers=headers)
    assert r.status_code == 200 and r.json()["acked_by"] == "tech-a"
    # a technician silences nothing (403: A is theirs, silencing is not)
    r = client.post("/api/v1/silences", json={"center": "ba-dinh", "reason": "x"},
                    headers=headers)
    assert r.status_code == 403
    assert client.post("/api/v1/silences", json={"center": "tay-ho", "reason": "x"},
                       headers=headers).status_code == 404
    # their report is their center's, unasked
    csv = client.get("/api/v1/report?month=2026-11&format=csv")
    assert csv.status_code == 200 and "Tây Hồ" not in csv.text
    assert client.get("/metrics").status_code == 403
    assert client.get("/api/v1/audit").status_code == 403


def test_viewer_reads_and_may_not_act(env) -> None:
    client, store = env
    headers = sign_in(client, "viewer-a")
    a = alert_id(store, "ba-dinh")
    assert client.get(f"/api/v1/alerts/{a}").status_code == 200
    assert client.post(f"/api/v1/alerts/{a}/ack", json={}, headers=headers).status_code == 403
    assert client.post(f"/api/v1/alerts/{a}/resolve", json={}, headers=headers
                       ).status_code == 403
    assert store.alert(a).state == "firing"


def test_desk_silences_everywhere_and_admin_reads_the_audit(env) -> None:
    client, _store = env
    headers = sign_in(client, "desk-1")
    assert len(client.get("/api/v1/alerts").json()) == 2
    r = client.post("/api/v1/silences", json={"center": "tay-ho", "reason": "bảo trì",
                                              "duration": "1h"}, headers=headers)
    assert r.status_code == 201 and r.json()["author"] == "desk-1"
    assert client.delete(f"/api/v1/silences/{r.json()['id']}", headers=headers
                         ).status_code == 200
    assert client.get("/api/v1/audit").status_code == 403
    client.cookies.clear()
    sign_in(client, "admin-1")
    rows = client.get("/api/v1/audit").json()
    acts = [(r["account"], r["action"], r["center"]) for r in rows]
    assert ("desk-1", "silence", "tay-ho") in acts and ("desk-1", "silence_end", "tay-ho") in acts
    assert ("desk-1", "sign_in", None) in acts and ("admin-1", "sign_in", None) in acts
    csv = client.get("/api/v1/audit.csv")
    assert csv.status_code == 200 and csv.text.startswith("id,at,account,via,peer,action")
    assert "desk-1" in csv.text


def test_every_write_with_the_cookie_needs_its_csrf_token(env) -> None:
    client, store = env
    headers = sign_in(client, "tech-a")
    a = alert_id(store, "ba-dinh")
    for bad in ({}, {"X-CSRF-Token": "0" * 64},
                {**headers, "Origin": "http://evil.example"}):
        r = client.post(f"/api/v1/alerts/{a}/ack", json={}, headers=bad)
        assert r.status_code == 403, bad
    assert client.delete("/api/v1/session").status_code == 403  # sign-out is a write too
    assert store.alert(a).state == "firing"
    ok = client.post(f"/api/v1/alerts/{a}/ack", json={},
                     headers={**headers, "Origin": "http://testserver"})
    assert ok.status_code == 200


def test_wrong_passwords_lock_the_account_and_an_address_is_rate_limited(target: str) -> None:
    store = Store(target)
    fill(store)
    client = app_for(target, auth=AuthSettings(lockout_after=3, lockout_s=5.0,
                                               peer_attempts_per_min=8))
    for _ in range(3):
        assert client.post("/api/v1/session", json={"name": "tech-a", "password": "sai-rồi-nhé"}
                           ).status_code == 401
    # locked: the right password is refused too, with the same words as a wrong one
    r = client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD})
    assert r.status_code == 401 and "locked" in r.json()["detail"]
    assert accounts.get_account(store.db, "tech-a").locked_until is not None  # type: ignore[union-attr]
    time.sleep(5.1)  # the lockout is over (5 s: a slow machine still sees it locked first)
    assert client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD}
                       ).status_code == 200
    # the address: past 8 wrong ones a minute, even right ones wait
    for i in range(4):
        client.post("/api/v1/session", json={"name": f"nobody-{i}", "password": "x" * 12})
    r = client.post("/api/v1/session", json={"name": "desk-1", "password": PASSWORD})
    assert r.status_code == 429 and r.headers["retry-after"] == "60"


def test_sessions_expire_when_idle_and_after_their_maximum(target: str) -> None:
    store = Store(target)
    fill(store)
    settings = AuthSettings(session_idle_s=600.0, session_max_s=3600.0)
    now = time.time()
    sid = accounts.new_session(store.db, "tech-a", "127.0.0.1", now)
    assert accounts.session_account(store.db, settings, sid, now + 300) is not None
    assert accounts.session_account(store.db, settings, sid, now + 850) is not None  # kept alive
    assert accounts.session_account(store.db, settings, sid, now + 850 + 601) is None  # idle
    sid = accounts.new_session(store.db, "tech-a", "127.0.0.1", now)
    for step in range(1, 7):  # busy all along, every 9 minutes
        assert accounts.session_account(store.db, settings, sid, now + step * 540) is not None
    assert accounts.session_account(store.db, settings, sid, now + 3601) is None  # absolute
    # through the API: a session past its idle time is refused
    client = app_for(target, auth=AuthSettings(session_idle_s=600.0))
    sign_in(client, "tech-a")
    store.db.execute("UPDATE web_sessions SET last_seen = last_seen - 601")
    assert client.get("/api/v1/alerts").status_code == 401


def test_disabled_account_is_signed_out_everywhere(env) -> None:
    client, store = env
    sign_in(client, "tech-a")
    secret, _ = accounts.add_token(store.db, account="tech-a", label="laptop", valid_s=3600,
                                   now=time.time())
    accounts.disable_account(store.db, "tech-a", time.time())
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {secret}"}
                      ).status_code == 401
    client.cookies.clear()
    assert client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD}
                       ).status_code == 401


def test_api_tokens_carry_the_accounts_role_and_scope(env) -> None:
    client, store = env
    now = time.time()
    secret, token = accounts.add_token(store.db, account="tech-a", label="phone", valid_s=3600,
                                       now=now)
    assert secret not in str(store.db.execute("SELECT * FROM api_tokens").fetchall())
    auth = {"Authorization": f"Bearer {secret}"}
    assert [a["center"] for a in client.get("/api/v1/alerts", headers=auth).json()] == [
        "ba-dinh"]
    b = alert_id(store, "tay-ho")
    assert client.post(f"/api/v1/alerts/{b}/ack", json={}, headers=auth).status_code == 404
    a = alert_id(store, "ba-dinh")
    r = client.post(f"/api/v1/alerts/{a}/ack", json={}, headers=auth)  # no cookie: no CSRF
    assert r.status_code == 200 and r.json()["acked_by"] == "tech-a"
    used = accounts.list_tokens(store.db, "tech-a")[0]
    assert used.last_used is not None and used.label == "phone"
    accounts.revoke_token(store.db, account="tech-a", label="phone", token_id=None, now=now)
    assert client.get("/api/v1/alerts", headers=auth).status_code == 401
    old, _ = accounts.add_token(store.db, account="tech-a", label="old", valid_s=60, now=now - 120)
    assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {old}"}
                      ).status_code == 401  # expired
    assert token.expires_at == pytest.approx(now + 3600)


def test_shared_tokens_still_work_as_admin_with_a_warning(env, caplog) -> None:
    client, store = env
    caplog.set_level("WARNING", "hcc.auth")
    auth = {"Authorization": f"Bearer {LEGACY}"}
    b = alert_id(store, "tay-ho")
    r = client.post(f"/api/v1/alerts/{b}/ack", json={}, headers=auth)
    assert r.status_code == 200 and r.json()["acked_by"] == "old-desk"
    assert client.get("/api/v1/audit", headers=auth).status_code == 200
    assert any("deprecated" in rec.getMessage() for rec in caplog.records)


def test_audit_rows_name_the_account_and_cannot_be_changed(env) -> None:
    client, store = env
    headers = sign_in(client, "tech-a")
    a = alert_id(store, "ba-dinh")
    client.post(f"/api/v1/alerts/{a}/ack", json={"note": "x"}, headers=headers)
    client.post(f"/api/v1/alerts/{a}/resolve", json={"note": "y"}, headers=headers)
    client.get("/api/v1/report?month=2026-11&format=csv")
    rows = [r for r in accounts.audit_rows(store.db) if r.account == "tech-a"]
    acts = [(r.action, r.center, r.via) for r in rows]
    assert ("ack", "ba-dinh", "session") in acts and ("resolve", "ba-dinh", "session") in acts
    assert ("report_download", "ba-dinh", "session") in acts
    ack = next(r for r in rows if r.action == "ack")
    assert ack.before["state"] == "firing" and ack.after["state"] == "acknowledged"
    assert ack.peer == "testclient"
    with pytest.raises(store.db.errors):
        store.db.execute("UPDATE audit_log SET account = 'someone-else'")
    with pytest.raises(store.db.errors):
        store.db.execute("DELETE FROM audit_log")
    # retention: only rows older than it go, through the one path that may delete
    accounts.audit(store.db, who="x", peer="-", action="old", target="t",
                   now=time.time() - 10 * 86400)
    assert accounts.prune_audit(store.db, 5 * 86400, time.time()) == 1
    assert "old" not in {r.action for r in accounts.audit_rows(store.db)}
    assert len(accounts.audit_rows(store.db)) == len(rows)  # the rest kept


def test_account_rules(target: str) -> None:
    store = Store(target)
    now = time.time()
    with pytest.raises(accounts.AccountError, match="scope"):
        accounts.add_account(store.db, name="t", role="technician", centers=[], groups=[],
                             password=PASSWORD, now=now)
    with pytest.raises(accounts.AccountError, match="role"):
        accounts.add_account(store.db, name="t", role="root", centers=[], groups=[],
                             password=PASSWORD, now=now)
    with pytest.raises(accounts.AccountError, match="group"):
        accounts.add_account(store.db, name="t", role="viewer", centers=[], groups=["x"],
                             password=PASSWORD, now=now, known_groups=GROUPS)
    with pytest.raises(accounts.AccountError, match="characters"):
        accounts.add_account(store.db, name="t", role="desk", centers=[], groups=[],
                             password="short", now=now)
    accounts.add_account(store.db, name="t", role="viewer", centers=[], groups=["ngoai-thanh"],
                         password=PASSWORD, now=now, known_groups=GROUPS)
    with pytest.raises(accounts.AccountError, match="exists"):
        accounts.add_account(store.db, name="t", role="desk", centers=[], groups=[],
                             password=PASSWORD, now=now)
    stored = store.db.execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_auth_groups_and_ldap_config_parse_and_name_their_line(tmp_path: Path) -> None:
    from controller.config import load
    from hcc_common.yamlconf import ConfigError

    path = tmp_path / "controller.yaml"
    path.write_text("groups: {ngoai-thanh: [xa-1, xa-2]}\n"
                    "auth:\n  session_idle: 20m\n  lockout_after: 3\n  public_status: true\n"
                    "  ldap:\n    url: ldap://dc.city.vn\n"
                    "    user_dn: 'uid={name},ou=people,dc=city,dc=vn'\n"
                    "    groups_base: 'ou=groups,dc=city,dc=vn'\n"
                    "    groups: {hcc-xa: {role: viewer, groups: [ngoai-thanh]}}\n")
    cfg = load(path)
    assert cfg.auth.groups == {"ngoai-thanh": frozenset({"xa-1", "xa-2"})}
    assert cfg.auth.session_idle_s == 1200 and cfg.auth.lockout_after == 3
    assert cfg.auth.public_status and cfg.auth.ldap is not None
    assert cfg.auth.ldap.groups["hcc-xa"].groups == ("ngoai-thanh",)
    assert cfg.http is None and not HttpSettings().read_open  # reads closed unless said
    path.write_text(path.read_text().replace("role: viewer", "role: root"))
    with pytest.raises(ConfigError) as err:
        load(path)
    assert f"{path}:10" in str(err.value) and "role must be one of" in str(err.value)
    path.write_text("groups: {ngoai-thanh: [xa-1, 'bad id!']}\n")
    with pytest.raises(ConfigError, match="not a valid center id"):
        load(path)
