"""The report's I/O shell: gather hour rows, alerts and names from the store, print to PDF with
headless Chromium, and e-mail the monthly report on the 1st; history upkeep (roll-up, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import smtplib
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from controller import history_store, pdf_queue
from controller.channels import email as email_channel
from controller.config import ControllerConfig, ReportSettings
from controller.db import log_round_failure
from controller.feed import StorePerThread
from controller.history import HourRollup
from controller.history_store import HourRow
from controller.report import (
    FORECAST_WINDOW_S,
    AlertFact,
    CenterMeta,
    DeviceHours,
    DeviceMeta,
    Period,
    Report,
    build,
    days_period,
    month_period,
)
from controller.report_render import TEXT, render_csv, render_html
from controller.state import DeviceInfo
from controller.store import Store
from hcc_common import readings as vocab

log = logging.getLogger("hcc.controller.report")

FORMATS = ("html", "pdf", "csv")
PDF_TIMEOUT_S = pdf_queue.PDF_TIME_LIMIT_S
MAINTAIN_EVERY_S = 300.0
MONTHLY_CHECK_EVERY_S = 60.0
MONTHLY_RETRY_S = 900.0
MONTHLY_LATE_DAYS = 7


class ReportError(RuntimeError):
    """A report that cannot be made as asked (no Chromium for a PDF, say): says what to do."""


def device_meta(devices: Sequence[DeviceInfo]) -> dict[tuple[str, str], DeviceMeta]:
    """Names for the report from the current readings: the device's name, its model (the
    printer's hrDeviceDescr, else the first part of sysDescr), its supplies' names."""
    out: dict[tuple[str, str], DeviceMeta] = {}
    for d in devices:
        model = d.metrics.get(vocab.MODEL.key)
        if not isinstance(model, str) or not model.strip():
            descr = d.metrics.get(vocab.SYS_DESCR.key)
            model = re.split(r"[;,\r\n]", descr)[0].strip()[:48] if isinstance(descr, str) \
                else ""
        supplies = {level: str(v) for k, v in d.metrics.items()
                    if (level := vocab.level_of_name(k)) is not None}
        out[(d.center, d.device)] = DeviceMeta(d.name, model or d.type, supplies)
    return out


def _grouped(rows: Iterator[HourRow]) -> Iterator[DeviceHours]:
    """Hour rows (by center, device, agent, hour) as one DeviceHours per device: a device that
    moved to another box keeps one history."""
    key: tuple[str, str] | None = None
    kind = ""
    hours: list[HourRollup] = []
    for row in rows:
        k = (row.center, row.device)
        if k != key:
            if key is not None:
                yield DeviceHours(key[0], key[1], kind, sorted(hours, key=lambda h: h.hour))
            key, hours = k, []
        kind = row.type or kind
        hours.append(row.rollup)
    if key is not None:
        yield DeviceHours(key[0], key[1], kind, sorted(hours, key=lambda h: h.hour))


def gather(store: Store, config: ControllerConfig, period: Period, *,
           center: str | None = None, now: float | None = None,
           devices: Sequence[DeviceInfo] | None = None) -> Report:
    """The report for `period` (one center, or all), from what the store holds now
    (`devices`: the store's devices, when the caller has read them already)."""
    now = time.time() if now is None else now
    devices = store.devices() if devices is None else devices
    history_store.rollup_all(store.db)  # what came in this hour counts too
    at = min(now, period.end)
    since = min(period.start, at - FORECAST_WINDOW_S)
    centers = {c.id: CenterMeta(c.name, c.hours) for c in config.centers
               if center is None or c.id == center}
    alerts = [AlertFact(a.center, a.device, a.device_name, a.code, a.severity, a.opened_at,
                        a.acked_at, a.resolved_at)
              for a in store.alerts(include_resolved=True, center=center, since=period.start,
                                    until=period.end, limit=10_000_000)
              if a.severity != "info"]
    meta = device_meta([d for d in devices if center is None or d.center == center])
    report = build(period, centers,
                   _grouped(history_store.hourly(store.db, since, period.end, center=center)),
                   alerts, meta, at=at, generated_at=now,
                   lead_days=config.reports.lead_days,
                   order_within_days=config.reports.order_within_days)
    if not any(c.amenities for c in config.centers if center is None or c.id == center):
        return report
    from controller.citizen_report import section

    return replace(report, citizens=section(store, config.centers, period.start, at, center))


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def format_for(out: Path, given: str | None) -> str:
    """The report's format: --format when given, else the file's extension (r.pdf is a PDF),
    else html."""
    if given is not None:
        return given
    return {".pdf": "pdf", ".csv": "csv", ".html": "html", ".htm": "html"}.get(
        out.suffix.lower(), "html")


def html_to_pdf(html: str, out: Path, timeout_s: float = PDF_TIMEOUT_S,
                memory_limit_bytes: int = pdf_queue.PDF_MEMORY_LIMIT_BYTES) -> None:
    """Print a page to PDF with headless Chromium: A4 with "n / N" at each page's foot, from
    the page's own @page rule (report_render.STYLE: Vietnam prints on A4; CSS page margin
    boxes, which Chromium prints), with Chromium's own header and footer (a file:// URL) off."""
    binary = chromium()
    if binary is None:
        raise ReportError("a PDF needs Chromium: apt install chromium (or use --format html)")
    with tempfile.TemporaryDirectory(prefix="hcc-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={target}", page.as_uri()]
        try:  # under a time and a memory limit, every process Chromium starts with it
            done = pdf_queue.run_bounded(cmd, stderr_path=Path(tmp) / "chromium.log",
                                         time_limit_s=timeout_s,
                                         memory_limit_bytes=memory_limit_bytes)
        except pdf_queue.LimitExceeded as exc:
            log.warning("PDF stopped", extra={"reason": str(exc)})
            raise ReportError(str(exc)) from None
        log.info("PDF rendered", extra={"seconds": round(done.seconds, 2),
                                        "peak_memory_mib": done.peak_memory_bytes >> 20})
        if not target.exists() or target.stat().st_size == 0:
            tail = done.stderr_tail.strip().splitlines()[-3:]
            raise ReportError("Chromium made no PDF: " + " | ".join(tail))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, out)


def period_for(month: str | None, first: str | None, last: str | None, timezone: str) -> Period:
    """The period people ask for: a month ('2026-11'), or from one day to another (both
    included, 'YYYY-MM-DD'). ValueError says what to write instead."""
    if month is not None and (first is not None or last is not None):
        raise ValueError("give a month, or from and to, not both")
    if month is not None:
        return month_period(month, timezone)
    if first is None or last is None:
        raise ValueError("give a month (e.g. 2026-11), or both from and to (YYYY-MM-DD)")
    try:
        a, b = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise ValueError(f"dates {first!r}, {last!r}: write YYYY-MM-DD") from None
    return days_period(a, b, timezone)  # which checks the span and the years


def make(store: Store, config: ControllerConfig, *, period: Period, center: str | None,
         fmt: str, lang: str, now: float | None = None, toolbar: str = "") -> bytes:
    """A report as asked by the CLI, the API or the dashboard, checked the same way for all."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if lang not in ("vi", "en"):
        raise ValueError("lang must be vi or en")
    names = {c.id: c.name for c in config.centers}
    devices = store.devices()  # read once: the center check and the report's names
    if center is not None and center not in names and center not in {d.center for d in devices}:
        raise ValueError(f"unknown center {center!r}")
    report = gather(store, config, period, center=center, now=now, devices=devices)
    return render(report, fmt, lang, names.get(center, center) if center else None, toolbar,
                  settings=config.reports)


def render(report: Report, fmt: str, lang: str, scope: str | None = None,
           toolbar: str = "", *, wait: bool = False,
           settings: ReportSettings | None = None) -> bytes:
    """The report in `fmt` (html, csv or pdf) as bytes. PDFs are made one at a time: when the
    queue is full, PdfBusy (unless `wait`: the monthly mail waits its turn); each under the
    time and memory limits of `settings`."""
    limits = settings or ReportSettings()
    if fmt == "csv":
        return render_csv(report, lang).encode("utf-8-sig")  # BOM: Excel reads it as UTF-8
    if fmt == "html":
        return render_html(report, lang, scope, toolbar).encode()
    with pdf_queue.QUEUE.slot(wait=wait), tempfile.TemporaryDirectory(prefix="hcc-pdf-") as tmp:
        page = render_html(report, lang, scope)
        out = Path(tmp) / "report.pdf"
        html_to_pdf(page, out, limits.pdf_time_limit_s, limits.pdf_memory_limit_mb << 20)
        return out.read_bytes()


# -- the monthly e-mail ---------------------------------------------------------------------
def due_month(now: float, settings: ReportSettings, last_sent: str | None) -> str | None:
    """The month whose report is due at `now` ('2026-11' on 2026-12-01 after 07:00 local, or
    in the week after, if the controller was down), or None (not yet, or already sent)."""
    local = datetime.fromtimestamp(now, ZoneInfo(settings.timezone))
    if (local.day, local.time()) < (settings.monthly_day, settings.monthly_at):
        return None
    if local.day >= settings.monthly_day + MONTHLY_LATE_DAYS:
        return None  # a week late (the controller was down): made by hand, not mailed late
    previous = local.replace(day=1) - timedelta(days=1)
    month = f"{previous.year:04d}-{previous.month:02d}"
    return None if last_sent is not None and last_sent >= month else month


def monthly_message(report: Report, attachment: bytes, fmt: str, lang: str,
                    target: email_channel.Settings) -> EmailMessage:
    t = TEXT[lang]
    msg = EmailMessage()
    msg["Subject"] = f"[HCC] {t['title']} — {report.period.label}"
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.to)
    city = report.city.ratio
    lines = [f"{t['title']} — {report.period.label}", "",
             f"{t['city_avail']}: " + ("—" if city is None else f"{city * 100:.2f} %"),
             f"{t['incidents']}: {report.city_incidents.count}",
             f"{t['pages']}: {sum(report.pages_by_center.values()):,}",
             f"{t['to_order']}: {len(report.order)}"]
    for s in report.order:
        lines.append(f"  - {report.centers.get(s.center, s.center)} · {s.name} · {s.supply_name}"
                     f" · {t['order_by']} {s.order_by}")
    msg.set_content("\n".join(lines) + "\n")
    kind = {"pdf": ("application", "pdf"), "html": ("text", "html"),
            "csv": ("text", "csv")}[fmt]
    msg.add_attachment(attachment, maintype=kind[0], subtype=kind[1],
                       filename=f"hcc-report-{report.period.label}.{fmt}")
    return msg


def send_monthly(store: Store, config: ControllerConfig, month: str, now: float) -> None:
    """Make last month's report and mail it to every configured receiver (raises on failure)."""
    settings = config.reports
    report = gather(store, config, month_period(month, settings.timezone), now=now)
    fmt = settings.monthly_format
    try:
        body = render(report, fmt, settings.monthly_lang, wait=True, settings=settings)
    except ReportError as exc:
        # no Chromium on this controller: the page itself still reads fine in any mail client
        log.warning("monthly report sent as HTML", extra={"reason": str(exc)})
        fmt, body = "html", render(report, "html", settings.monthly_lang)
    receivers = {r.name: r.settings for r in config.notify.receivers if r.kind == "email"}
    for name in settings.monthly_email:
        target = receivers[name]  # the config parser allows only email receivers here
        email_channel.deliver(target, monthly_message(report, body, fmt, settings.monthly_lang,
                                                      target))


def monthly_step(store: Store, config: ControllerConfig, now: float) -> str | None:
    """Send the month's report if it is due and no controller has claimed it; the month sent."""
    if not config.reports.monthly_email:
        return None
    month = due_month(now, config.reports, store.last_report_month())
    if month is None or not store.claim_report(month, now, MONTHLY_RETRY_S):
        return None
    try:
        send_monthly(store, config, month, now)
    except (OSError, smtplib.SMTPException, ReportError) as exc:
        store.report_failed(month, f"{type(exc).__name__}: {exc}")
        log.warning("monthly report not sent; trying again later",
                    extra={"month": month, "error": str(exc)[:300]})
        return None
    store.report_sent(month, time.time())
    log.info("monthly report sent", extra={"month": month,
                                           "receivers": list(config.reports.monthly_email)})
    return month


def maintain(store: Store, config: ControllerConfig, now: float) -> tuple[int, int, int]:
    """Roll up new readings, forget old ones: (device-hours rolled up, raw rows, hour rows gone)."""
    # Only hours that are over: the hour going on is rolled up when someone reads it (a
    # report, a device's chart), not again and again as its samples come in. Each device-hour
    # is then rolled up about once: 300,000 devices, 83 a second.
    done = history_store.rollup_all(store.db, settled_at=now)
    raw, hourly = history_store.prune(store.db, now, config.history.raw_keep_s,
                                      config.history.hourly_keep_s)
    return done, raw, hourly


def _maintain(stores: StorePerThread, config: ControllerConfig, now: float
              ) -> tuple[int, int, int]:
    return maintain(stores.get(), config, now)


def _monthly(stores: StorePerThread, config: ControllerConfig, now: float) -> str | None:
    return monthly_step(stores.get(), config, now)


async def upkeep_loop(stop: asyncio.Event, config: ControllerConfig,
                      stores: StorePerThread) -> None:
    """Every few minutes: history roll-up and retention; every minute: the monthly report."""
    next_maintain = 0.0
    while not stop.is_set():
        now = time.time()
        try:
            if now >= next_maintain:
                done = await asyncio.to_thread(_maintain, stores, config, now)
                if any(done):
                    log.info("history upkeep", extra={"rolled_up": done[0],
                                                      "raw_pruned": done[1],
                                                      "hourly_pruned": done[2]})
                next_maintain = now + MAINTAIN_EVERY_S
            await asyncio.to_thread(_monthly, stores, config, now)
        except Exception as exc:  # noqa: BLE001 - logged; the loop survives a database moment
            log_round_failure(log, "report upkeep failed", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), MONTHLY_CHECK_EVERY_S)
