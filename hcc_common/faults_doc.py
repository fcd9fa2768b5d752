"""Render the fault vocabulary as docs/faults.md (run: python -m hcc_common.faults_doc > docs/faults.md)."""

from __future__ import annotations

from hcc_common.faults import VOCABULARY

AREAS = {
    "device": "mọi thiết bị / any device", "printer": "máy in / printers",
    "ap": "điểm phát Wi-Fi / access points", "charger": "trạm sạc / chargers",
    "ups": "bộ lưu điện / UPS", "wifi": "Wi-Fi như khách dùng / Wi-Fi as citizens see it",
    "wan": "đường Internet của trung tâm / the center's internet line",
    "host": "máy giám sát / the box itself", "agent": "máy giám sát và kết nối / the box's link",
    "center": "cả trung tâm / the whole center",
    "citizen": "người dân báo qua mã QR / reported by citizens (QR code)",
}


def render() -> str:
    lines = [
        "# Fault codes",
        "",
        "The stable vocabulary of faults, generated from `hcc_common/faults.py` by",
        "`python -m hcc_common.faults_doc > docs/faults.md` (a test keeps the two in step).",
        "Codes never change meaning; new ones are added. `{name}` parts are filled from the",
        "fault's params; a part in brackets is left out when its param is unknown.",
        "A message is shown after the device's name: *Máy in quầy 1: kẹt giấy*.",
        "",
    ]
    # one section per area, in the order areas first appear (codes of an area may be spread)
    areas: dict[str, list[str]] = {}
    for d in VOCABULARY.values():
        areas.setdefault(d.code.split(".")[0], []).append(d.code)
    for prefix, codes in areas.items():
        lines += ["", f"## {prefix}: {AREAS.get(prefix, prefix)}", "",
                  "| code | severity | Tiếng Việt | English | việc cần làm / fix |",
                  "|---|---|---|---|---|"]
        for code in codes:
            d = VOCABULARY[code]
            lines.append(f"| `{d.code}` | {d.severity.value} | {d.vi} | {d.en} | "
                         f"{d.hint_vi}<br>{d.hint_en} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
