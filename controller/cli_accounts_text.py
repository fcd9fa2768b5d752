"""Vietnamese help texts of hcc-controller's accounts commands (user, token, audit, --as), keyed
by the English they replace; merged into controller.cli_text.VI."""

from __future__ import annotations

from collections.abc import Mapping

VI: Mapping[str, str] = {
    "Act as this account (default: $HCC_AS, $SUDO_USER or $USER).":
        "Thao tác dưới tên tài khoản này (mặc định: $HCC_AS, $SUDO_USER hoặc $USER).",
    "The audit trail: every write, who, when, from where, before and after (admins).":
        "Nhật ký thao tác: mọi thay đổi, ai làm, lúc nào, từ đâu, trước và sau (quản trị viên).",
    "From this time: 7d (ago), or ISO 8601 such as 2026-11-01.":
        "Từ thời điểm này: 7d (7 ngày trước), hoặc ISO 8601 như 2026-11-01.",
    "CSV output (for a spreadsheet).": "In dạng CSV (mở bằng bảng tính).",
    "Drop rows older than auth.audit_retention first.":
        "Xóa trước các dòng cũ hơn thời hạn lưu auth.audit_retention.",
    "Accounts: who signs in, with which role and which centers.":
        "Tài khoản: ai đăng nhập, với vai trò nào và những trung tâm nào.",
    "Make an account. The very first one must be an admin and needs no account to act as.":
        "Tạo tài khoản. Tài khoản đầu tiên phải là quản trị viên (admin) và không cần tài khoản "
        "nào để tạo.",
    "The account's name.": "Tên tài khoản.",
    "viewer, technician, desk or admin.":
        "viewer (chỉ xem), technician (kỹ thuật viên), desk (trực ban) hoặc admin (quản trị).",
    "A center the account sees (repeatable).":
        "Một trung tâm tài khoản được xem (có thể lặp lại).",
    "A group of centers from controller.yaml groups: (repeatable).":
        "Một nhóm trung tâm trong mục groups: của controller.yaml (có thể lặp lại).",
    "A file whose first line is the password (default: asked).":
        "Tệp có dòng đầu là mật khẩu (mặc định: hỏi khi chạy).",
    "Every account: role, centers and groups, disabled or not.":
        "Mọi tài khoản: vai trò, trung tâm và nhóm, có bị khóa hay không.",
    "Disable an account: no sign-in; its sessions end and its tokens stop at once.":
        "Khóa tài khoản: không đăng nhập được; các phiên đăng nhập và token của nó dừng ngay.",
    "Set an account's password (and lift its lockout).":
        "Đặt mật khẩu cho tài khoản (và mở khóa nếu đang bị khóa tạm).",
    "API tokens of an account (its role and centers), for scripts.":
        "Token API của một tài khoản (cùng vai trò và trung tâm), dùng cho các script.",
    "Make an API token for an account; only its hash is kept, the token goes to --out.":
        "Tạo token API cho tài khoản; chỉ lưu mã băm, token được ghi vào tệp --out.",
    "What the token is for (shown in lists).": "Token dùng để làm gì (hiện trong danh sách).",
    "File to write the token to (mode 600).": "Tệp để ghi token (quyền 600).",
    "How long it works: 30d, 90d, 365d.": "Thời hạn dùng: 30d, 90d, 365d.",
    "Revoke an account's token(s), at once.": "Thu hồi ngay token của một tài khoản.",
    "Revoke the tokens with this label.": "Thu hồi các token có nhãn này.",
    "Revoke the token of this id.": "Thu hồi token có số này.",
    "Tokens: account, label, expiry, last used, revoked.":
        "Các token: tài khoản, nhãn, hạn dùng, lần dùng cuối, đã thu hồi chưa.",
    "Only this account's.": "Chỉ của tài khoản này.",
}
