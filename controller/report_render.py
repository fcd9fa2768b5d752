"""The report as people read it: one self-contained HTML page (also printed to PDF) and a CSV for
spreadsheets, in Vietnamese or English; pure (a Report in, text out)."""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from controller import (
    csp,
    csv_safe,
    web_text,  # noqa: F401  (the report's words in Vietnamese)
)
from controller.citizen_report import CitizenSection
from controller.report import Availability, Incidents, Report, Supply
from hcc_common import faults as vocab
from hcc_common.texts import tr

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Service-center hardware report", "period": "Period", "made": "Made",
        "scope": "Scope", "all_centers": "the whole city",
        "summary": "Summary", "city_avail": "City-wide availability",
        "incidents": "Incidents", "mtta": "Mean time to acknowledge (MTTA)",
        "mttr": "Mean time to resolve (MTTR)", "pages": "Pages printed",
        "to_order": "Supplies to order", "avail": "Availability (opening hours)",
        "by_center": "Per center", "by_type": "Per device type", "by_device": "Per device",
        "center": "Center", "device": "Device", "type": "Type", "devices": "Number of devices",
        "open_h": "Open hours", "down_h": "Hours down", "nodata_h": "Hours without data",
        "availability": "Availability", "count": "Number of incidents", "acked": "Acknowledged",
        "resolved": "Resolved", "top": "Most recurring faults",
        "model_faults": "Recurring faults per model", "model": "Model", "fault": "Fault",
        "times": "Times", "in_centers": "Number of centers", "pages_title": "Pages printed",
        "printer": "Printer", "toner": "Toner, ink and supplies",
        "order_title": "Order supplies for these printers within {days} days",
        "order_none": "Nothing needs ordering in the next {days} days.",
        "order_note": "Order {lead} days before empty (delivery time).",
        "supply": "Supply", "level": "Level", "used": "Used in period",
        "replaced": "Replaced", "rate": "Use per day", "days_left": "Days left",
        "empty_on": "Empty on", "order_by": "Order by", "confidence": "Confidence",
        "conf_high": "high", "conf_medium": "medium", "conf_low": "low",
        "conf_none": "no forecast",
        "wifi": "Wi-Fi", "peak": "Peak (clients)", "average": "Average (clients)",
        "idle": "Open hours with no clients", "open_hours": "Open hours with data",
        "probe_mbps": "Speed users get (Mbit/s)",
        "citizens": "Citizens' reports and the opening checklist",
        "reports": "Citizens' reports", "fixed": "Resolved", "to_fix": "Time to resolution (median)",
        "off_hours": "Outside opening hours", "amenity_type": "Amenity type",
        "unseen": "Seen by citizens, not by any sensor", "problem": "Problem reported",
        "checklist": "The staff's opening checklist", "items": "Items",
        "days_open": "Open days", "days_complete": "Days fully checked",
        "ticked": "Checked",
        "none": "No data in the period.", "city": "City-wide",
        "columns": "What the columns mean",
        "h": "h", "min": "min", "dash": "—",
    },
}

TEXT["vi"] = {k: tr(v, "vi") for k, v in TEXT["en"].items()}  # the one catalog's words

# What the columns mean, printed under the report.
EXPLAIN: dict[str, list[str]] = {
    "en": [
                "Availability = time up / opening time with data. Only the center's opening hours"
                " count; its holidays (from its calendar) are skipped.",
                "Hours down: unreachable, or a fault that stops the device (out of toner, paper"
                " jam, on battery…) during opening hours.",
                "Hours without data: the center's box sent nothing (network or power cut); not"
                " counted for or against availability.",
                "MTTA: mean time from the alert to someone acknowledging it. MTTR: to it being"
                " resolved.",
                "Pages: the sum of the page counter's increases; a counter reset or a replaced"
                " printer starts a new baseline.",
                "Empty on: a straight line through the hourly levels since the last new cartridge"
                " (30 days at most). High confidence: 14+ days of data and a close fit (R² ≥ 0.9).",
                "Wi-Fi: connected clients, summed over the center's access points, per hour.",
    ],
}
EXPLAIN["vi"] = [tr(line, "vi") for line in EXPLAIN["en"]]

STYLE = """
body{font:14px/1.4 system-ui,"Segoe UI",Roboto,sans-serif;color:#1d2733;margin:24px;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #dde3ea}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#5b6776;margin:0 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #dde3ea;border-radius:8px;
padding:10px 14px;min-width:150px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}th,td{border-bottom:1px solid #e6ebf0;
padding:4px 6px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f6f9;font-weight:600}.bad{color:#b42318;font-weight:600}.warn{color:#b54708}
.order{border:2px solid #b54708;border-radius:8px;padding:8px 12px}
.small{font-size:12px;color:#5b6776}ul.explain{padding-left:18px}
@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
@page{size:A4;margin:14mm 12mm 16mm 12mm;
@bottom-center{content:counter(page) " / " counter(pages);font:9pt sans-serif;color:#555}}
@media (max-width:640px){body{margin:10px}table{font-size:12px}.wide{overflow-x:auto}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def num(value: float, decimals: int, lang: str) -> str:
    """A number as each language writes it: 18.840,5 in Vietnamese, 18,840.5 in English
    (rounded half up, as people round, not to the nearest binary float)."""
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    text = f"{exact:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def pct(ratio: float | None, lang: str) -> str:
    return "—" if ratio is None else f"{num(ratio * 100, 2, lang)} %"


def hours(seconds: float, lang: str) -> str:
    return num(seconds / 3600, 1, lang)


def duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "—"
    t = TEXT[lang]
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} {t['min']}"
    return f"{minutes // 60} {t['h']} {minutes % 60:02d} {t['min']}"


def day(d: date | None) -> str:
    return d.isoformat() if d is not None else "—"


def fault_name(code: str, lang: str) -> str:
    return vocab.message(code, {}, lang)


def _table(headers: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f'<th class="{"n" if num else ""}">{_e(h)}</th>' for h, num in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="{"n" if headers[i][1] else ""}">{cell}</td>' for i, cell in enumerate(r))
        + "</tr>" for r in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>' \
           f"</table></div>"


def _avail_rows(items: Iterable[Availability], first: str, lang: str) -> list[list[str]]:
    out = []
    for a in items:
        ratio = a.ratio
        cls = "bad" if ratio is not None and ratio < 0.95 else ""
        label = {"center": a.name, "type": vocab.type_name(a.type, lang), "device": a.name}[first]
        out.append([_e(label), str(a.devices), hours(a.open_s, lang), hours(a.down_s, lang),
                    hours(a.nodata_s, lang), f'<span class="{cls}">{pct(ratio, lang)}</span>'])
    return out


def _incident_cells(i: Incidents, lang: str) -> list[str]:
    top = "; ".join(f"{fault_name(code, lang)} × {n}" for code, n in i.top)
    return [str(i.count), str(i.acked), str(i.resolved), duration(i.mtta_s, lang),
            duration(i.mttr_s, lang), _e(top)]


def _supply_cells(s: Supply, names: dict[str, str], lang: str) -> list[str]:
    t = TEXT[lang]
    f = s.forecast
    return [_e(names.get(s.center, s.center)), _e(s.name), _e(s.supply_name),
            "—" if f.level is None else f"{num(f.level, 0, lang)} %", num(s.used_pct, 1, lang),
            str(s.replaced),
            "—" if f.rate_per_day is None or f.days_left is None else num(f.rate_per_day, 2, lang),
            "—" if f.days_left is None else num(f.days_left, 0, lang), day(f.empty_on),
            day(s.order_by), _e(t[f"conf_{f.confidence}"])]


# A report read as a file (mailed, downloaded, printed by Chromium) runs nothing and loads
# nothing, wherever it is opened; served as the report page, the HTTP header says the same.
FILE_CSP_META = (f'<meta http-equiv="Content-Security-Policy" '
                 f'content="{html.escape(csp.file_policy([STYLE]))}">')


def render_html(r: Report, lang: str = "vi", scope: str | None = None,
                toolbar: str = "") -> str:
    """The report as one page; `toolbar` (HTML) goes above it on the dashboard's report page."""
    t = TEXT[lang]
    tz = ZoneInfo(r.period.timezone)
    names = dict(r.centers)
    made = datetime.fromtimestamp(r.generated_at, tz).strftime("%Y-%m-%d %H:%M %Z")
    total_pages = sum(r.pages_by_center.values())
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{'' if toolbar else FILE_CSP_META}"
        f"<title>{_e(t['title'])} — {_e(r.period.label)}</title><style>{STYLE}</style></head>"
        f'<body>{toolbar}<h1>{_e(t["title"])}</h1><p class="meta">{_e(t["period"])}: '
        f"<b>{_e(r.period.label)}</b> ({_e(r.period.timezone)}) · {_e(t['scope'])}: "
        f"{_e(scope or t['all_centers'])} · {_e(t['made'])}: {_e(made)}</p>",
        f'<h2>{_e(t["summary"])}</h2><div class="cards" id="summary">'
        f'<div class="card">{_e(t["city_avail"])}<b>{pct(r.city.ratio, lang)}</b></div>'
        f'<div class="card">{_e(t["incidents"])}<b>{r.city_incidents.count}</b></div>'
        f'<div class="card">{_e(t["mtta"])}<b>{duration(r.city_incidents.mtta_s, lang)}</b></div>'
        f'<div class="card">{_e(t["mttr"])}<b>{duration(r.city_incidents.mttr_s, lang)}</b></div>'
        f'<div class="card">{_e(t["pages"])}<b>{num(total_pages, 0, lang)}</b></div>'
        f'<div class="card">{_e(t["to_order"])}<b>{len(r.order)}</b></div></div>',
    ]
    # the purchaser's list first: it is what someone acts on this week
    days = f"{r.order_within_days:g}"
    parts.append(f'<h2 id="order">{_e(t["order_title"].format(days=days))}</h2>'
                 f'<div class="order"><p class="small">'
                 f'{_e(t["order_note"].format(lead=f"{r.lead_days:g}"))}</p>')
    if r.order:
        parts.append(_table(
            [(t["center"], False), (t["printer"], False), (t["supply"], False), (t["level"], True),
             (t["used"], True), (t["replaced"], True), (t["rate"], True), (t["days_left"], True),
             (t["empty_on"], False), (t["order_by"], False), (t["confidence"], False)],
            (_supply_cells(s, names, lang) for s in r.order)))
    else:
        parts.append(f"<p>{_e(t['order_none'].format(days=days))}</p>")
    parts.append("</div>")
    avail_head = [(t["devices"], True), (t["open_h"], True), (t["down_h"], True),
                  (t["nodata_h"], True), (t["availability"], True)]
    parts.append(f'<h2 id="availability">{_e(t["avail"])}</h2>')
    if not r.devices:
        parts.append(f"<p>{_e(t['none'])}</p>")
    else:
        parts.append(f"<h3>{_e(t['by_center'])}</h3>" + _table(
            [(t["center"], False), *avail_head],
            [*_avail_rows(r.by_center, "center", lang),
             [f"<b>{_e(t['city'])}</b>", *_avail_rows([r.city], "center", lang)[0][1:]]]))
        parts.append(f"<h3>{_e(t['by_type'])}</h3>" + _table(
            [(t["type"], False), *avail_head], _avail_rows(r.by_type, "type", lang)))
        parts.append(f"<h3>{_e(t['by_device'])}</h3>" + _table(
            [(t["center"], False), (t["device"], False), (t["type"], False), *avail_head[1:]],
            ([_e(names.get(a.center, a.center)), *(
                [_e(a.name), _e(vocab.type_name(a.type, lang)),
                 *_avail_rows([a], "device", lang)[0][2:]])]
             for a in r.devices)))
    parts.append(f'<h2 id="incidents">{_e(t["incidents"])}</h2>')
    inc_head = [(t["count"], True), (t["acked"], True), (t["resolved"], True), (t["mtta"], True),
                (t["mttr"], True), (t["top"], False)]
    parts.append(_table([(t["center"], False), *inc_head],
                        [*([_e(names.get(i.center, i.center)), *_incident_cells(i, lang)]
                           for i in r.incidents),
                         [f"<b>{_e(t['city'])}</b>", *_incident_cells(r.city_incidents, lang)]]))
    if r.model_faults:
        parts.append(f"<h3>{_e(t['model_faults'])}</h3>" + _table(
            [(t["model"], False), (t["fault"], False), (t["times"], True),
             (t["in_centers"], True)],
            ([_e(m.model), _e(fault_name(m.code, lang)), str(m.count), str(m.centers)]
             for m in r.model_faults)))
    parts.append(f'<h2 id="pages">{_e(t["pages_title"])}</h2>')
    if r.pages:
        parts.append(f"<h3>{_e(t['by_center'])}</h3>" + _table(
            [(t["center"], False), (t["pages"], True)],
            [*([_e(names.get(c, c)), num(n, 0, lang)] for c, n in r.pages_by_center.items()),
             [f"<b>{_e(t['city'])}</b>", num(total_pages, 0, lang)]]))
        parts.append(f"<h3>{_e(t['printer'])}</h3>" + _table(
            [(t["center"], False), (t["printer"], False), (t["pages"], True)],
            ([_e(names.get(p.center, p.center)), _e(p.name), num(p.pages, 0, lang)]
             for p in r.pages)))
    else:
        parts.append(f"<p>{_e(t['none'])}</p>")
    parts.append(f'<h2 id="toner">{_e(t["toner"])}</h2>')
    if r.supplies:
        parts.append(_table(
            [(t["center"], False), (t["printer"], False), (t["supply"], False), (t["level"], True),
             (t["used"], True), (t["replaced"], True), (t["rate"], True), (t["days_left"], True),
             (t["empty_on"], False), (t["order_by"], False), (t["confidence"], False)],
            (_supply_cells(s, names, lang) for s in r.supplies)))
    else:
        parts.append(f"<p>{_e(t['none'])}</p>")
    parts.append(f'<h2 id="wifi">{_e(t["wifi"])}</h2>')
    if r.wifi:
        parts.append(_table(
            [(t["center"], False), (t["peak"], True), (t["average"], True),
             (t["idle"], True), (t["open_hours"], True), (t["probe_mbps"], True)],
            ([_e(names.get(w.center, w.center)), "—" if w.peak is None else str(w.peak),
              "—" if w.average is None else num(w.average, 1, lang), str(w.idle_open_hours),
              str(w.open_hours),
              "—" if w.probe_mbps is None else num(w.probe_mbps, 1, lang)] for w in r.wifi)))
    else:
        parts.append(f"<p>{_e(t['none'])}</p>")
    if r.citizens is not None:
        parts.append(_citizens_html(r.citizens, names, lang))
    parts.append(f"<h2>{_e(t['columns'])}</h2><ul class=\"explain\">"
                 + "".join(f"<li>{_e(line)}</li>" for line in EXPLAIN[lang]) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)


PAGE_TEXT = {
    "en": {"back": "← Dashboard", "month": "Month", "center": "Center", "all": "All",
           "show": "Show", "lang": "Language"},
}
PAGE_TEXT["vi"] = {k: tr(v, "vi") for k, v in PAGE_TEXT["en"].items()}
TOOLBAR_STYLE = (".toolbar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;"
                 "padding:8px 0 14px;border-bottom:1px solid #dde3ea;margin-bottom:14px}"
                 ".toolbar a,.toolbar button{padding:6px 10px;border:1px solid #9aa7b4;"
                 "border-radius:6px;background:#fff;color:#12355b;text-decoration:none;"
                 "font:inherit}.toolbar select,.toolbar input{padding:5px;font:inherit}"
                 ".toolbar .message{color:#b42318}@media print{.toolbar{display:none}}")
TOOLBAR_STYLE_TAG = f"<style>{TOOLBAR_STYLE}</style>"


MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def month_name(year: int, month: int, lang: str) -> str:
    """'Tháng 12/2026' or 'December 2026': a month picker's words are the page's, not the
    browser's (an <input type=month> speaks the browser's own language)."""
    return f"Tháng {month}/{year}" if lang == "vi" else f"{MONTHS_EN[month - 1]} {year}"


def month_options(chosen: str, lang: str, count: int = 24) -> str:
    """<option>s for the last `count` months up to the chosen one's or this month, newest first."""
    today = date.today()
    try:
        year, month = (int(x) for x in chosen.split("-"))
    except ValueError:
        year, month = today.year, today.month
    top = max((year, month), (today.year, today.month))
    months = [((top[0] * 12 + top[1] - 1 - i) // 12, (top[0] * 12 + top[1] - 1 - i) % 12 + 1)
              for i in range(count)]
    if (year, month) not in months:
        months.append((year, month))
    return "".join(
        f'<option value="{y:04d}-{m:02d}"{" selected" if (y, m) == (year, month) else ""}>'
        f"{_e(month_name(y, m, lang))}</option>" for y, m in months)


def toolbar_html(lang: str, month: str, center: str | None, centers: Mapping[str, str]) -> str:
    """The report page's form: month, center, language; show it, or get it as PDF or CSV."""
    p = PAGE_TEXT[lang]
    options = "".join(
        f'<option value="{_e(cid)}"{" selected" if cid == center else ""}>{_e(name)}</option>'
        for cid, name in sorted(centers.items(), key=lambda kv: kv[1]))
    langs = "".join(f'<option value="{code}"{" selected" if code == lang else ""}>{label}</option>'
                    for code, label in (("vi", "Tiếng Việt"), ("en", "English")))
    # URL-encoded, then HTML-escaped: a center id is a box's word (an & or # in it stays its own)
    query = _e(urlencode({"month": month, "lang": lang, **({"center": center} if center else {})}))
    return (f'{TOOLBAR_STYLE_TAG}<form class="toolbar" method="get" action="/reports">'
            f'<a href="/">{_e(p["back"])}</a>'
            f'<label>{_e(p["month"])} <select name="month">{month_options(month, lang)}</select>'
            f'</label><label>{_e(p["center"])} <select name="center"><option value="">'
            f'{_e(p["all"])}</option>{options}</select></label>'
            f'<label>{_e(p["lang"])} <select name="lang">{langs}</select></label>'
            f'<button type="submit" id="show">{_e(p["show"])}</button>'
            f'<a id="pdf" href="/api/v1/report?{query}&amp;format=pdf">PDF</a>'
            f'<a id="csv" href="/api/v1/report?{query}&amp;format=csv">CSV</a>'
            f'<span id="report-message" class="message" role="status"></span></form>'
            # the PDF link is fetched with the session cookie (a PDF needs someone signed in)
            f'<script src="/static/texts.js" defer></script>'
            f'<script src="/static/report.js" defer></script>')


def _citizens_html(c: CitizenSection, names: dict[str, str], lang: str) -> str:
    t = TEXT[lang]
    f = c.figures
    side = 0 if lang == "vi" else 1
    parts = [f'<h2 id="citizens">{_e(t["citizens"])}</h2><div class="cards">'
             f'<div class="card">{_e(t["reports"])}<b>{f.reports}</b></div>'
             f'<div class="card">{_e(t["fixed"])}<b>{f.resolved}</b></div>'
             f'<div class="card">{_e(t["to_fix"])}<b>{duration(f.median_to_resolution_s, lang)}'
             f'</b></div><div class="card">{_e(t["off_hours"])}<b>{f.off_hours}</b></div></div>']
    if f.by_type:
        parts.append(f"<h3>{_e(t['amenity_type'])}</h3>" + _table(
            [(t["amenity_type"], False), (t["reports"], True)],
            ([_e(_amenity_type(k, side)), str(n)] for k, n in f.by_type.items())))
        parts.append(f"<h3>{_e(t['by_center'])}</h3>" + _table(
            [(t["center"], False), (t["reports"], True)],
            ([_e(names.get(k, k)), str(n)] for k, n in f.by_center.items())))
    if f.unseen_by_sensors:
        parts.append(f"<h3>{_e(t['unseen'])}</h3>" + _table(
            [(t["problem"], False), (t["reports"], True)],
            ([_e(_problem(k, side)), str(n)] for k, n in f.unseen_by_sensors.items())))
    if c.checklist:
        parts.append(f"<h3>{_e(t['checklist'])}</h3>" + _table(
            [(t["center"], False), (t["items"], True), (t["days_open"], True),
             (t["days_complete"], True), (t["ticked"], True)],
            ([_e(names.get(x.center, x.center)), str(x.items), str(x.open_days),
              str(x.complete_days), pct(x.rate, lang)] for x in c.checklist)))
    return "".join(parts)


def _amenity_type(key: str, side: int) -> str:
    from controller.amenities import TYPES

    found = TYPES.get(key)
    return key if found is None else (found.vi, found.en)[side]


def _problem(key: str, side: int) -> str:
    from controller.amenities import PROBLEMS

    return PROBLEMS[key][side] if key in PROBLEMS else key


def render_csv(r: Report, lang: str = "vi") -> str:
    """One CSV, a section after another: a '# section' line, a header, rows, a blank line.
    Numbers are plain (hours with a dot, ratios 0..1), for spreadsheets."""
    t = TEXT[lang]
    out = io.StringIO()
    w = csv_safe.writer(out, lineterminator="\n")
    names = dict(r.centers)

    def section(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        w.writerow([f"# {name}"])
        w.writerow(header)
        w.writerows(rows)
        w.writerow([])

    def ratio(a: Availability) -> str:
        return "" if a.ratio is None else f"{a.ratio:.5f}"

    section("availability_by_device",
            ["center", "center_name", "device", "device_name", "type", "open_h", "down_h",
             "nodata_h", "availability"],
            ([a.center, names.get(a.center, a.center), a.key, a.name, a.type,
              f"{a.open_s / 3600:.2f}", f"{a.down_s / 3600:.2f}", f"{a.nodata_s / 3600:.2f}",
              ratio(a)] for a in r.devices))
    section("availability_by_center",
            ["center", "center_name", "devices", "open_h", "down_h", "nodata_h", "availability"],
            [*([a.key, a.name, a.devices, f"{a.open_s / 3600:.2f}", f"{a.down_s / 3600:.2f}",
                f"{a.nodata_s / 3600:.2f}", ratio(a)] for a in r.by_center),
             ["city", t["city"], r.city.devices, f"{r.city.open_s / 3600:.2f}",
              f"{r.city.down_s / 3600:.2f}", f"{r.city.nodata_s / 3600:.2f}", ratio(r.city)]])
    section("availability_by_type",
            ["type", "devices", "open_h", "down_h", "nodata_h", "availability"],
            ([a.type, a.devices, f"{a.open_s / 3600:.2f}", f"{a.down_s / 3600:.2f}",
              f"{a.nodata_s / 3600:.2f}", ratio(a)] for a in r.by_type))

    def minutes(s: float | None) -> str:
        return "" if s is None else f"{s / 60:.1f}"

    section("incidents",
            ["center", "center_name", "incidents", "acknowledged", "resolved", "mtta_min",
             "mttr_min", "top_faults"],
            ([i.center, names.get(i.center, t["city"]), i.count, i.acked, i.resolved,
              minutes(i.mtta_s), minutes(i.mttr_s),
              "; ".join(f"{fault_name(c, lang)} ({c}) x{n}" for c, n in i.top)]
             for i in (*r.incidents, r.city_incidents)))
    section("faults_by_model", ["model", "code", "fault", "count", "centers"],
            ([m.model, m.code, fault_name(m.code, lang), m.count, m.centers]
             for m in r.model_faults))
    section("pages", ["center", "center_name", "device", "printer", "pages"],
            ([p.center, names.get(p.center, p.center), p.device, p.name, p.pages]
             for p in r.pages))
    supply_header = ["center", "center_name", "device", "printer", "supply", "supply_name",
                     "level_pct", "used_pct", "replaced", "use_pct_per_day", "days_left",
                     "empty_on", "order_by", "confidence", "basis_days", "r2"]

    def supply_row(s: Supply) -> list[object]:
        f = s.forecast
        return [s.center, names.get(s.center, s.center), s.device, s.name, s.supply,
                s.supply_name, "" if f.level is None else f"{f.level:.1f}", f"{s.used_pct:.1f}",
                s.replaced, "" if f.rate_per_day is None else f"{f.rate_per_day:.3f}",
                "" if f.days_left is None else f"{f.days_left:.1f}",
                f.empty_on.isoformat() if f.empty_on else "",
                s.order_by.isoformat() if s.order_by else "", f.confidence, f.basis_days,
                "" if f.r2 is None else f.r2]

    section("order_within_days", supply_header, (supply_row(s) for s in r.order))
    section("supplies", supply_header, (supply_row(s) for s in r.supplies))
    section("wifi", ["center", "center_name", "peak_clients", "average_clients",
                     "idle_open_hours", "open_hours_with_data", "probe_download_mbps"],
            ([w.center, names.get(w.center, w.center), "" if w.peak is None else w.peak,
              "" if w.average is None else w.average, w.idle_open_hours, w.open_hours,
              "" if w.probe_mbps is None else w.probe_mbps]
             for w in r.wifi))
    if r.citizens is not None:
        f = r.citizens.figures
        section("citizen_reports_by_type", ["amenity_type", "reports"], f.by_type.items())
        section("citizen_reports_by_center", ["center", "center_name", "reports"],
                ([k, names.get(k, k), n] for k, n in f.by_center.items()))
        section("citizen_reports_unseen_by_sensors", ["problem", "reports"],
                f.unseen_by_sensors.items())
        section("citizen_reports_summary", ["reports", "resolved", "median_to_resolution_min",
                                            "off_hours"],
                [[f.reports, f.resolved, minutes(f.median_to_resolution_s), f.off_hours]])
        section("opening_checklist", ["center", "center_name", "items", "open_days",
                                      "complete_days", "checked_ratio"],
                ([x.center, names.get(x.center, x.center), x.items, x.open_days,
                  x.complete_days, "" if x.rate is None else f"{x.rate:.4f}"]
                 for x in r.citizens.checklist))
    return out.getvalue()
