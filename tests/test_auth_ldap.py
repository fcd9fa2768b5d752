"""Sign-in against a real slapd started by the test (issue 27): a bind proves the password,
directory groups map to a role and centers, a person in no mapped group, a wrong password, an
empty one or a name that would change the DN is refused, a local account is never taken over,
and a directory that is down is 503, not a crash."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller import accounts
from controller.api import create_app
from controller.auth_config import AuthSettings
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.ldap_auth import LdapGroup, LdapSettings, mapped
from controller.state import AlertKey, OpenAlert
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import Proc, free_port, spawn, wait_tcp

BASE = "dc=hcc,dc=vn"
ROOT_DN, ROOT_PW = f"cn=admin,{BASE}", "root-password-of-the-test"
GROUPS = {"hcc-ba-dinh": LdapGroup(role="technician", centers=("ba-dinh",)),
          "hcc-desk": LdapGroup(role="desk"),
          "hcc-ngoai-thanh": LdapGroup(role="viewer", groups=("ngoai-thanh",))}
PEOPLE = {"lan": ("lan-password-1234", ["hcc-ba-dinh"]),
          "minh": ("minh-password-1234", ["hcc-desk", "hcc-ba-dinh"]),
          "khach": ("khach-password-1234", ["hcc-unmapped"]),
          "owned": ("directory-password-1", ["hcc-desk"])}


def test_group_mapping_takes_the_highest_role_and_the_union_of_scopes() -> None:
    s = LdapSettings(url="ldap://x", user_dn="uid={name}", groups_base="b", groups=GROUPS)
    assert mapped(["hcc-ba-dinh", "hcc-ngoai-thanh", "other"], s) == (
        mapped(["hcc-ngoai-thanh", "hcc-ba-dinh"], s))
    m = mapped(["hcc-ba-dinh", "hcc-ngoai-thanh"], s)
    assert m is not None and m.role == "technician" and m.centers == ("ba-dinh",)
    assert m.groups == ("ngoai-thanh",)
    assert mapped(["other"], s) is None and mapped([], s) is None


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Proc]]:
    binary = shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists()
                                       else None)
    if binary is None or not Path("/etc/ldap/schema/inetorgperson.schema").exists():
        pytest.skip("slapd is not installed (Debian package slapd; scripts/bootstrap.sh with "
                    "HCC_WITH_TEST_TOOLS=1 installs it)")
    import ldap3

    tmp = tmp_path_factory.mktemp("slapd")
    (tmp / "db").mkdir()
    conf = tmp / "slapd.conf"
    conf.write_text("".join(f"include /etc/ldap/schema/{s}.schema\n"
                            for s in ("core", "cosine", "inetorgperson", "nis")) + f"""\
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {tmp}/slapd.pid
database mdb
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {tmp}/db
maxsize 10485760
""")
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    # -d 0: stays in the foreground (a child of the test), logs to its file
    proc = spawn("slapd", [binary, "-f", str(conf), "-h", f"{url}/", "-d", "0"],
                 tmp / "slapd.log")
    try:
        wait_tcp(port, 15)
        conn = ldap3.Connection(ldap3.Server(url, connect_timeout=5), ROOT_DN, ROOT_PW,
                                auto_bind=True, receive_timeout=5)
        assert conn.add(BASE, ["dcObject", "organization"], {"o": "hcc", "dc": "hcc"})
        for ou in ("people", "groups"):
            assert conn.add(f"ou={ou},{BASE}", ["organizationalUnit"], {"ou": ou})
        members: dict[str, list[str]] = {}
        for uid, (pw, groups) in PEOPLE.items():
            dn = f"uid={uid},ou=people,{BASE}"
            assert conn.add(dn, ["inetOrgPerson"], {"uid": uid, "cn": uid, "sn": uid,
                                                    "userPassword": pw})
            for g in groups:
                members.setdefault(g, []).append(dn)
        for g, dns in members.items():
            assert conn.add(f"cn={g},ou=groups,{BASE}", ["groupOfNames"],
                            {"cn": g, "member": dns})
        conn.unbind()
        yield url, proc
    finally:
        proc.stop()


def app_for(tmp_path: Path, url: str) -> tuple[TestClient, Store]:
    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    store.write([OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="prn-1",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in quầy 1", params={}, at=now),
                 OpenAlert(key=AlertKey(center="tay-ho", agent="pi-2", device="prn-9",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in Tây Hồ", params={}, at=now)])
    # a local account of the same name as a directory person: the directory cannot take it
    accounts.add_account(store.db, name="owned", role="viewer", centers=["tay-ho"], groups=[],
                         password="the-local-password", now=now)
    settings = LdapSettings(url=url, user_dn=f"uid={{name}},ou=people,{BASE}",
                            groups_base=f"ou=groups,{BASE}", timeout_s=3.0, groups=GROUPS)
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                           centers=(CenterInfo(id="ba-dinh", name="Ba Đình", hours=OpeningHours()),
                                    CenterInfo(id="tay-ho", name="Tây Hồ", hours=OpeningHours())),
                           http=HttpSettings(),
                           auth=AuthSettings(ldap=settings,
                                             groups={"ngoai-thanh": frozenset({"tay-ho"})}))
    return TestClient(create_app(cfg, StorePerThread(db), None)), store


def test_directory_people_sign_in_with_their_groups_role_and_scope(
        slapd: tuple[str, Proc], tmp_path: Path) -> None:
    client, store = app_for(tmp_path, slapd[0])
    r = client.post("/api/v1/session", json={"name": "lan", "password": "lan-password-1234"})
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["centers"]) == ("technician", ["ba-dinh"])
    b = next(a.id for a in store.alerts() if a.center == "tay-ho")
    assert client.get(f"/api/v1/alerts/{b}").status_code == 404
    assert [a["center"] for a in client.get("/api/v1/alerts").json()] == ["ba-dinh"]
    client.cookies.clear()
    r = client.post("/api/v1/session", json={"name": "minh", "password": "minh-password-1234"})
    assert r.status_code == 200 and r.json()["role"] == "desk" and r.json()["centers"] is None
    client.cookies.clear()
    for name, password in (("lan", "wrong-password-99"), ("khach", "khach-password-1234"),
                           ("nobody", "whatever-password"), ("lan,ou=people", "x" * 12),
                           ("lan)(uid=*", "lan-password-1234"), ("lan", " "),
                           ("owned", "directory-password-1")):
        r = client.post("/api/v1/session", json={"name": name, "password": password})
        assert r.status_code == 401, (name, r.text)
    # the local password of the local account still works, with its own role
    r = client.post("/api/v1/session", json={"name": "owned", "password": "the-local-password"})
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    rows = [(x.account, x.action) for x in accounts.audit_rows(store.db)]
    assert ("lan", "sign_in") in rows and ("minh", "sign_in") in rows


def test_a_directory_that_is_down_is_503(slapd: tuple[str, Proc], tmp_path: Path) -> None:
    client, _ = app_for(tmp_path, f"ldap://127.0.0.1:{free_port()}")  # nothing listens
    r = client.post("/api/v1/session", json={"name": "lan", "password": "lan-password-1234"})
    assert r.status_code == 503 and "could not be asked" in r.json()["detail"]
