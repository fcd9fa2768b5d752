"""Render the fault vocabulary as docs/faults.md (run: python -m hcc_common.faults_doc > docs/faults.md)."""

from __future__ import annotations

from hcc_common.faults import VOCABULARY


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
    group = ""
    for d in VOCABULARY.values():
        prefix = d.code.split(".")[0]
        if prefix != group:
            group = prefix
            lines += ["", f"## {prefix}", "",
                      "| code | severity | Tiếng Việt | English | việc cần làm / fix |",
                      "|---|---|---|---|---|"]
        lines.append(f"| `{d.code}` | {d.severity.value} | {d.vi} | {d.en} | "
                     f"{d.hint_vi}<br>{d.hint_en} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
