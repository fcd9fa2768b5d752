"""The product's Vietnamese words: one term for one thing, used alike by the dashboard, the CLI,
reports and notifications (docs/glossary.md is generated from here: python -m hcc_common.glossary)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    vi: str
    en: str
    meaning: str  # when to use it, in Vietnamese: the line a translator would need


TERMS: tuple[Term, ...] = (
    Term("trung tâm", "service center", "Trung tâm phục vụ hành chính công của phường, xã."),
    Term("máy giám sát", "the box", "Máy nhỏ (Raspberry Pi) đặt tại trung tâm, chạy hcc-agent."),
    Term("thiết bị", "device", "Máy in, điểm phát Wi-Fi, trạm sạc, ki-ốt… mà máy giám sát theo dõi."),
    Term("không phản hồi", "not responding",
         "Thiết bị không trả lời chút nào (có thể mất điện, tuột cáp mạng)."),
    Term("mất kết nối", "disconnected / offline",
         "Máy giám sát hay một đường mạng không còn liên lạc được với hệ thống."),
    Term("từ chối kết nối", "refuses connections",
         "Thiết bị vẫn bật nhưng dịch vụ trên đó không chạy."),
    Term("kẹt giấy", "paper jam", "Giấy bị kẹt trong máy in."),
    Term("hết giấy", "out of paper", "Khay giấy trống."),
    Term("sắp hết", "running low", "Mực, giấy, pin… còn ít, cần chuẩn bị thay (sắp hết mực)."),
    Term("hết mực", "out of toner / ink", "Hộp mực đã hết, máy in không in được."),
    Term("điểm phát Wi-Fi", "Wi-Fi access point", "Thiết bị phát sóng Wi-Fi cho khách."),
    Term("chứng chỉ bảo mật", "security (TLS) certificate",
         "Chứng chỉ để trình duyệt tin trang web của thiết bị."),
    Term("cảnh báo", "alert", "Một sự cố được hệ thống ghi nhận và báo cho kỹ thuật viên."),
    Term("sự cố", "incident / fault", "Điều không ổn ở thiết bị, trung tâm hay đường mạng."),
    Term("đã nhận", "acknowledged", "Đã có người nhận xử lý cảnh báo."),
    Term("đã xử lý", "resolved", "Sự cố đã được khắc phục."),
    Term("tạm tắt", "silenced", "Cảnh báo vẫn hiện nhưng không gửi thông báo (bảo trì)."),
    Term("người trực", "on duty", "Kỹ thuật viên trong ca trực theo lịch."),
    Term("giờ mở cửa", "opening hours", "Giờ trung tâm tiếp dân; ngày lễ không tính."),
    Term("mức sẵn sàng", "availability", "Tỉ lệ thời gian thiết bị dùng được trong giờ mở cửa."),
)

# A word the product does not use -> the glossary's word for it (checked in every fault text)
AVOID: Mapping[str, str] = {
    r"mất liên lạc": "mất kết nối",
    r"\boffline\b": "mất kết nối",
    r"chứng chỉ TLS": "chứng chỉ bảo mật",
    r"access point": "điểm phát Wi-Fi",
    r"hộp giám sát": "máy giám sát",
    r"máy trạm": "máy giám sát",
    r"kẹt máy": "kẹt giấy",
    r"\btoner\b": "mực",
}


def render() -> str:
    lines = ["# Bảng thuật ngữ / Glossary", "",
             "Generated from `hcc_common/glossary.py` (`python -m hcc_common.glossary > "
             "docs/glossary.md`). The dashboard, the CLI, reports and notifications use these "
             "words and no others for these things; a test checks every fault text against the "
             "list of words to avoid.", "",
             "| Tiếng Việt | English | dùng khi / meaning |", "|---|---|---|"]
    lines += [f"| **{t.vi}** | {t.en} | {t.meaning} |" for t in TERMS]
    lines += ["", "## Không dùng / avoid", "", "| không dùng | dùng |", "|---|---|"]
    lines += [f"| {w.replace(chr(92) + 'b', '')} | {r} |" for w, r in AVOID.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
