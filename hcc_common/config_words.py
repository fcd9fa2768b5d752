"""Config errors in the technician's language: the parsers' reasons (written in English where
they are raised) and their Vietnamese, as entries of the one catalog (hcc_common.texts); the
file, line and key stay as they are: they point at the text the technician edits."""

from __future__ import annotations

import re

from hcc_common import texts
from hcc_common.yamlconf import ConfigError

VI = texts.register({
    # what a node is (yamlconf.Node.kind), as it stands inside a reason
    "number": "một số", "text": "văn bản", "true/false": "true/false", "empty": "trống",
    "mapping": "các cặp khóa: giá trị", "list": "một danh sách",
    # yamlconf
    "file not found": "không tìm thấy tệp",
    "cannot read file: {why}": "không đọc được tệp: {why}",
    "file is empty": "tệp trống: chưa có nội dung nào",
    "YAML syntax error: {problem}":
        "lỗi cú pháp YAML ({problem}): kiểm tra thụt lề ở dòng này và dòng trên (dùng dấu cách, "
        "không dùng tab), dấu hai chấm sau mỗi khóa, và dấu nháy có đủ cặp",
    "YAML error: {problem}": "lỗi YAML ({problem}): kiểm tra lại cách viết tệp",
    # pyyaml's own problems, the common ones
    "mapping values are not allowed here": "không được đặt dấu hai chấm ở đây",
    "could not find expected ':'": "thiếu dấu hai chấm ':'",
    "found character '\\t' that cannot start any token": "có ký tự tab (hãy dùng dấu cách)",
    "found undefined alias": "dùng bí danh (*) chưa khai báo",
    "expected <block end>, but found '{token}'": "thụt lề không khớp (gặp '{token}')",
    "expected ',' or ']', but got '{token}'": "thiếu ',' hoặc ']' (gặp '{token}')",
    "expected ',' or '}', but got '{token}'":
        "thiếu ',' hoặc dấu đóng ngoặc nhọn (gặp '{token}')",
    "<stream end>": "cuối tệp",
    "found unexpected end of stream": "tệp kết thúc giữa chừng (thiếu dấu nháy đóng?)",
    "required key is missing": "thiếu khóa bắt buộc",
    "unknown key": "khóa không hợp lệ",
    "(did you mean {name}?)": "(có phải {name}?)",
    "key given twice (first on line {line})": "khóa bị lặp (lần đầu ở dòng {line})",
    "expected a duration such as 30s, got {kind}":
        "cần một khoảng thời gian như 30s, nhưng đây là {kind}",
    "bad duration {value}; write e.g. {example}":
        "khoảng thời gian {value} không hợp lệ; viết ví dụ {example}",
    "expected a whole number, got {kind} {value}": "cần một số nguyên, nhưng đây là {kind} {value}",
    "expected a number, got {kind} {value}": "cần một số, nhưng đây là {kind} {value}",
    "must be at least {minimum}, got {value}": "phải từ {minimum} trở lên, nhưng là {value}",
    "must be at most {maximum}, got {value}": "tối đa là {maximum}, nhưng là {value}",
    "expected true or false, got {value}": "cần true hoặc false, nhưng là {value}",
    "{value} is not one of {choices}": "{value} không phải một trong: {choices}",
    "must be one of {choices}, got {value}": "phải là một trong: {choices}, nhưng là {value}",
    "expected a list, got {kind}": "cần một danh sách, nhưng đây là {kind}",
    "expected a mapping of keys, got {kind}": "cần các cặp khóa: giá trị, nhưng đây là {kind}",
    "expected text, got {kind}": "cần văn bản, nhưng đây là {kind}",
    "expected a single value, got a {kind}": "cần một giá trị, nhưng đây là {kind}",
    "must not be empty": "không được để trống",
    # agent/config.py
    "device {id} has no check: add one of {kinds}":
        "thiết bị {id} chưa có cách kiểm tra: thêm một trong {kinds}",
    "device {id} needs a host (IP address or name) for its checks":
        "thiết bị {id} cần host (địa chỉ IP hoặc tên) để kiểm tra",
    "timeout ({timeout}) must be shorter than the interval ({interval})":
        "timeout ({timeout}) phải ngắn hơn interval ({interval})",
    "duplicate device id {id} (first used on line {line})":
        "mã thiết bị {id} bị dùng hai lần (lần đầu ở dòng {line})",
    "{value} is not a valid id: use lower-case letters, digits, '-', '_' or '.', starting "
    "with a letter or digit (and not {reserved})":
        "{value} không phải mã hợp lệ: chỉ dùng chữ thường không dấu, chữ số, '-', '_' hoặc "
        "'.', bắt đầu bằng chữ hoặc số (và không phải {reserved})",
    "names no key: give the controller's key file (from `hcc-agent enroll`) or an "
    "ed25519:<base64> key":
        "chưa có khóa: ghi tệp khóa của máy chủ trung tâm (do `hcc-agent enroll` tạo) hoặc một "
        "khóa ed25519:<base64>",
    "empty: give a key file or an ed25519:<base64> key":
        "trống: ghi một tệp khóa hoặc một khóa ed25519:<base64>",
    "{value}: give a program's absolute path (/usr/lib/nagios/plugins/check_disk) or a "
    "directory ending in / ":
        "{value}: ghi đường dẫn đầy đủ của chương trình (/usr/lib/nagios/plugins/check_disk) "
        "hoặc một thư mục kết thúc bằng /",
    "{value} is not an IP address (write e.g. 192.0.2.10)":
        "{value} không phải địa chỉ IP (viết ví dụ 192.0.2.10)",
    "{value} is not an IP address or a host name": "{value} không phải địa chỉ IP hay tên máy",
    "supply_warning ({hi}%) must be above supply_critical ({lo}%): a supply warns before it "
    "runs out":
        "supply_warning ({hi}%) phải lớn hơn supply_critical ({lo}%): cần báo sắp hết trước "
        "khi hết hẳn",
    "min_power_w ({lo}) must be below max_power_w ({hi})":
        "min_power_w ({lo}) phải nhỏ hơn max_power_w ({hi})",
    "a percentage from 0 to 100, got {value}": "cần phần trăm từ 0 đến 100, nhưng là {value}",
    "URL must start with http:// or https://, got {url}":
        "URL phải bắt đầu bằng http:// hoặc https://, nhưng là {url}",
    "path must start with /": "path phải bắt đầu bằng /",
    "expected 4 hex digits as lsusb shows them (e.g. 04f9), got {value}":
        "cần 4 chữ số hex như lsusb hiện (ví dụ 04f9), nhưng là {value}",
    "cannot split the command line: {why}": "không tách được dòng lệnh: {why}",
    "command is empty": "lệnh trống",
    "expected an http:// or https:// URL": "cần một URL http:// hoặc https://",
    "privacy (priv) needs authentication (auth) too": "mã hóa (priv) cần có cả xác thực (auth)",
    "snmp v3 with {what}: {proto} needs {key} (or {key}_file / {key}_env) of 8+ characters":
        "snmp v3 với {what}: {proto} cần {key} (hoặc {key}_file / {key}_env) dài từ 8 ký tự",
    # hcc_common/calendar.py
    "unknown day in {spec}; use mon..sun": "ngày không hợp lệ trong {spec}; dùng mon..sun",
    "unknown day {day}; use mon, tue, wed, thu, fri, sat, sun":
        "ngày {day} không hợp lệ; dùng mon, tue, wed, thu, fri, sat, sun",
    "bad hours {value}; write e.g. 07:30-17:00": "giờ {value} không hợp lệ; viết ví dụ 07:30-17:00",
    "bad time in {value}": "giờ không hợp lệ trong {value}",
    "{value} ends before it starts": "{value} kết thúc trước khi bắt đầu",
    "bad date {value}; write YYYY-MM-DD": "ngày {value} không hợp lệ; viết YYYY-MM-DD",
    "unknown time zone {value}; e.g. Asia/Ho_Chi_Minh":
        "múi giờ {value} không hợp lệ; ví dụ Asia/Ho_Chi_Minh",
    # hcc_common/secret_values.py
    "give only one of {keys}": "chỉ ghi một trong: {keys}",
    "environment variable {name} is not set": "biến môi trường {name} chưa được đặt",
    "cannot read {path}: {why}": "không đọc được {path}: {why}",
    "{path} is empty": "{path} trống",
    # hcc_common/mqtt_settings.py
    "broker URL must start with mqtt:// or mqtts://, got {url}":
        "địa chỉ máy chủ MQTT phải bắt đầu bằng mqtt:// hoặc mqtts://, nhưng là {url}",
    "broker URL has no host: {url}": "địa chỉ máy chủ MQTT thiếu tên máy: {url}",
    "broker URL has a bad port: {url}": "địa chỉ máy chủ MQTT có cổng sai: {url}",
    # hcc_common/filecheck.py: the files a config names
    "{path}: no such file": "{path}: không có tệp này",
    "{path} is not a file": "{path} không phải một tệp",
    "cannot read {path}: permission denied": "không đọc được {path}: không có quyền",
    "{path} is not readable by the service's group {group}: sudo chgrp {group} {path} && sudo "
    "chmod 0640 {path}":
        "nhóm {group} của dịch vụ không đọc được {path}: sudo chgrp {group} {path} && sudo "
        "chmod 0640 {path}",
    "{folder} cannot be entered by the service's group {group}":
        "nhóm {group} của dịch vụ không vào được thư mục {folder}",
    # agent/profile_loader.py
    "bad regular expression: {why}": "biểu thức chính quy sai: {why}",
    "duplicate profile {id}": "profile {id} bị trùng",
    "unknown decoder {name}; known: {known}": "bộ giải mã {name} không có; các bộ có: {known}",
    "give one of {kinds} per entry": "mỗi mục ghi một trong: {kinds}",
    "'where' picks table rows: give it with sum, rows or stations, not total":
        "'where' chọn các dòng của bảng: dùng cùng sum, rows hoặc stations, không dùng với total",
    "{value} is not a whole number": "{value} không phải số nguyên",
    "{value} is not one of this profile's {what}":
        "{value} không phải một trong các {what} của profile này",
    "scalars": "giá trị đơn", "table columns": "cột của bảng",
}, __name__)

_SUGGESTION = re.compile(r"^(?P<reason>.*?)\s*(?P<suggestion>\(did you mean [^()]*\?\))$")


def reason_vi(reason: str) -> str:
    """A parser's reason in Vietnamese; a reason not yet in the catalog stays English (the
    test of every raised reason keeps that list empty)."""
    m = _SUGGESTION.match(reason)
    if m is not None:  # "… (did you mean 'x'?)": the reason and the suggestion, each
        return f"{texts.translate(m['reason'], 'vi')} {texts.translate(m['suggestion'], 'vi')}"
    return texts.translate(reason, "vi")


def localize(err: ConfigError, lang: str | None = None) -> str:
    """The error's one line in `lang` (default: the process's): file:line: key: reason."""
    if (lang or texts.current()) != "vi":
        return str(err)
    where = f"{err.file}:{err.line}" if err.line else err.file
    reason = reason_vi(err.reason)
    return f"{where}: {err.key}: {reason}" if err.key else f"{where}: {reason}"
