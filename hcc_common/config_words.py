"""Config errors in the technician's language: the parser's reasons, said in Vietnamese (the
file, line and key stay as they are: they point at the text the technician edits)."""

from __future__ import annotations

import re

from hcc_common.yamlconf import ConfigError

KINDS_VI = {"number": "một số", "text": "văn bản", "true/false": "true/false", "empty": "trống",
            "mapping": "các cặp khóa: giá trị", "list": "một danh sách", "a list": "một danh sách",
            "a mapping": "các cặp khóa: giá trị"}

# (English reason, as the parsers write it) -> Vietnamese; groups are carried over
REASONS_VI: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"^{a}$"), b) for a, b in (
        (r"file not found", "không tìm thấy tệp"),
        (r"cannot read file: (.+)", r"không đọc được tệp: \1"),
        (r"YAML syntax error: (.+)", r"lỗi cú pháp YAML: \1"),
        (r"required key is missing", "thiếu khóa bắt buộc"),
        (r"unknown key \(did you mean '(.+)'\?\)", r"khóa không hợp lệ (có phải '\1'?)"),
        (r"unknown key", "khóa không hợp lệ"),
        (r"key given twice \(first on line (\d+)\)", r"khóa bị lặp (lần đầu ở dòng \1)"),
        (r"expected a duration such as 30s, got (.+)",
         r"cần một khoảng thời gian như 30s, nhưng đây là {\1}"),
        (r"bad duration '(.+)'; write e\.g\. (.+)",
         r"khoảng thời gian '\1' không hợp lệ; viết ví dụ \2"),
        (r"expected a whole number, got (\S+) (.+)", r"cần một số nguyên, nhưng đây là {\1} \2"),
        (r"expected a number, got (\S+) (.+)", r"cần một số, nhưng đây là {\1} \2"),
        (r"must be at least (.+), got (.+)", r"phải từ \1 trở lên, nhưng là \2"),
        (r"must be at most (.+), got (.+)", r"tối đa là \1, nhưng là \2"),
        (r"expected true or false, got (.+)", r"cần true hoặc false, nhưng là \1"),
        (r"'(.+)' is not one of (.+)", r"'\1' không phải một trong: \2"),
        (r"expected a list, got (.+)", r"cần một danh sách, nhưng đây là {\1}"),
        (r"expected a mapping of keys, got (.+)", r"cần các cặp khóa: giá trị, nhưng đây là {\1}"),
        (r"expected text, got (.+)", r"cần văn bản, nhưng đây là {\1}"),
        (r"expected a single value, got a (.+)", r"cần một giá trị, nhưng đây là {\1}"),
        (r"must not be empty", "không được để trống"),
        (r"device '(.+)' has no check: add one of (.+)",
         r"thiết bị '\1' chưa có cách kiểm tra: thêm một trong \2"),
        (r"device '(.+)' needs a host \(IP address or name\) for its checks",
         r"thiết bị '\1' cần host (địa chỉ IP hoặc tên) để kiểm tra"),
        (r"timeout \((.+)\) must be shorter than the interval \((.+)\)",
         r"timeout (\1) phải ngắn hơn interval (\2)"),
        (r"device id '(.+)' used twice \(first on line (\d+)\)",
         r"mã thiết bị '\1' bị dùng hai lần (lần đầu ở dòng \2)"),
    ))


def reason_vi(reason: str) -> str:
    for pattern, template in REASONS_VI:
        m = pattern.match(reason)
        if m is not None:
            text = m.expand(template)
            return re.sub(r"\{([^}]*)\}", lambda k: KINDS_VI.get(k.group(1), k.group(1)), text)
    return reason  # a reason not yet translated: in English rather than lost


def localize(err: ConfigError, lang: str) -> str:
    """The error's one line in `lang`: file:line: key: reason."""
    if lang != "vi":
        return str(err)
    where = f"{err.file}:{err.line}" if err.line else err.file
    reason = reason_vi(err.reason)
    return f"{where}: {err.key}: {reason}" if err.key else f"{where}: {reason}"
