"""The dashboard at a city's size in headless Chromium: a page of centers, worst first, with
how many there are and a "more" button; the filter asks the server, so a center beyond the first
page is found by its name or one of its devices' (issue 27: pages that stay fast)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web import chromium

from conftest import wait_until
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import AlertKey, DeviceInfo, OpenAlert
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

CENTERS = 130


@pytest.fixture
def city(tmp_path: Path) -> Iterator[str]:
    import uvicorn

    from controller.api import create_app

    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    effects: list[object] = [DeviceInfo(f"p{i:03d}", "pi-1", "printer-1", f"Máy in {i}",
                                        "printer", "ok", now, now, 0, {}, ())
                             for i in range(CENTERS)]
    effects.append(DeviceInfo("p129", "pi-1", "robot-1", "Robot lễ tân", "robot", "ok", now,
                              now, 0, {}, ()))
    effects.append(OpenAlert(AlertKey("p077", "pi-1", "printer-1", "printer.jammed"),
                             "critical", "Máy in 77", {}, now - 60))
    store.write(effects)  # type: ignore[arg-type]
    store.close()
    port = free_port()
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db, centers=tuple(
        CenterInfo(f"p{i:03d}", f"Phường {i}", OpeningHours()) for i in range(CENTERS)),
        http=HttpSettings("127.0.0.1", port, read_open=True))
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, StorePerThread(db), None),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(port, 15)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def tiles(driver: object) -> list[str]:
    return list(driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll('#centers .center')].map(e => e.dataset.center)"))


def test_a_page_of_centers_more_on_demand_and_the_server_filters(city: str,
                                                                  tmp_path: Path) -> None:
    with chromium(tmp_path) as driver:
        driver.get(city + "/")  # type: ignore[attr-defined]
        wait_until(lambda: len(tiles(driver)) == 60, 20, "the first page of centers")
        shown = tiles(driver)
        assert shown[0] == "p077"  # worst first: the one with a critical alert
        text = driver.execute_script("return document.body.innerText")  # type: ignore[attr-defined]
        assert "Đang hiện 60 trên 130 trung tâm" in text
        driver.find_element("id", "more").click()  # type: ignore[attr-defined]
        wait_until(lambda: len(tiles(driver)) == 120, 20, "the second page")
        box = driver.find_element("id", "filter")  # type: ignore[attr-defined]
        box.send_keys("lễ tân")  # a device of the last center, not on the pages shown
        wait_until(lambda: tiles(driver) == ["p129"], 20, "the server's filter")
        assert driver.find_element("id", "more").is_displayed() is False  # type: ignore[attr-defined]
