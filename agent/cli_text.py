"""hcc-agent's help texts in Vietnamese and English: the language is chosen once, at start, from
`--lang` on the command line or the locale (Vietnamese unless the locale is English)."""

from __future__ import annotations

from collections.abc import Mapping

from hcc_common.cliutil import start_lang

HELP: Mapping[str, Mapping[str, str]] = {
    "vi": {
        "app": "hcc-agent theo dõi các thiết bị của một trung tâm phục vụ hành chính công và báo "
               "về thành phố.",
        "config": "Tệp devices.yaml của trung tâm (mặc định: /etc/hcc-agent/devices.yaml nếu "
                  "có, nếu không thì ./devices.yaml).",
        "path": "Đường dẫn devices.yaml (thay cho --config).",
        "lang": "Ngôn ngữ: vi (mặc định) hoặc en.",
        "validate": "Kiểm tra devices.yaml mà không đọc thiết bị nào. Trả về 0 nếu hợp lệ; "
                    "nếu sai, in tệp:dòng và lý do, trả về 1.",
        "validate.elsewhere": "Kiểm tra ở nơi khác máy giám sát (máy chủ trung tâm): không "
                              "kiểm tra các tệp mà cấu hình nhắc tới (mật khẩu, CA).",
        "discover": "Tìm thiết bị của trung tâm (máy in, điểm phát Wi-Fi, ổ cắm PDU, UPS qua "
                    "SNMP; ổ cắm Shelly, Tasmota; máy in IPP) và in các mục devices.yaml cho "
                    "chúng, hoặc thêm vào tệp (--write).",
        "discover.subnets": "Dải mạng cần dò, ví dụ 192.0.2.0/24 (mặc định: mạng LAN của "
                            "máy này).",
        "discover.community": "Community SNMP v2c để thử (dùng nhiều lần được; mặc định: "
                              "public).",
        "discover.write": "Thêm thiết bị mới vào --config, giữ nguyên chú thích và thứ tự.",
        "discover.concurrency": "Số máy dò cùng lúc.",
        "discover.rate": "Số máy dò mỗi giây, tối đa.",
        "discover.timeout": "Số giây chờ mỗi câu trả lời.",
        "discover.snmp_port": "Cổng SNMP cần dò.",
        "discover.http_port": "Cổng HTTP của ổ cắm thông minh.",
        "discover.neighbours": "Dò cả các máy trong bảng ARP của máy này.",
        "discover.reload": "Sau --write, báo dịch vụ hcc-agent đang chạy đọc lại tệp ngay "
                           "(systemctl reload; không khởi động lại).",
        "enroll": "Cấp cho máy này tài khoản kết nối riêng: đổi mã một lần qua HTTPS (kiểm tra "
                  "dấu vân tay chứng chỉ), ghi mật khẩu và CA cạnh devices.yaml, đặt mục mqtt:, "
                  "kiểm tra rồi khởi động lại dịch vụ.",
        "enroll.url": "Địa chỉ máy chủ trung tâm, ví dụ https://hcc.city.vn:8443",
        "enroll.code": "Mã một lần do hcc-controller enroll cấp.",
        "enroll.fingerprint": "SHA-256 của chứng chỉ máy chủ, như hcc-controller enroll đã in.",
        "enroll.restart": "Khởi động lại dịch vụ hcc-agent sau khi xong.",
        "run": "Đọc từng thiết bị theo chu kỳ và gửi báo cáo qua MQTT cho đến khi dừng (chế độ "
               "dịch vụ).",
        "run.broker": "Thay mqtt.url, ví dụ mqtt://host:1883",
        "run.log_level": "debug, info, warning hoặc error",
        "check": "Kiểm tra ngay mọi thiết bị một lần và nói rõ lỗi gì, bằng lời dễ hiểu.",
        "check.device": "Chỉ thiết bị có mã này.",
        "check.json": "Mỗi thiết bị một dòng JSON.",
        "status": "Xem hcc-agent đang chạy vừa làm gì: kết nối máy chủ, hàng đợi, lần đọc gần "
                  "nhất của từng thiết bị.",
        "status.json": "In trạng thái gốc dạng JSON.",
    },
    "en": {
        "app": "hcc-agent watches the devices of one service center and reports them to the city.",
        "config": "The center's devices.yaml (default: /etc/hcc-agent/devices.yaml when it "
                  "exists, else ./devices.yaml).",
        "path": "The devices.yaml to use (instead of --config).",
        "lang": "Language: vi (default) or en.",
        "validate": "Check devices.yaml without polling anything. Exit 0 if valid; if not, "
                    "print file:line and why, and exit 1.",
        "validate.elsewhere": "Judged away from the box (the controller): the files the config "
                              "names (password, CA) are not checked.",
        "discover": "Find the center's devices (SNMP printers, APs, PDUs, UPSes; Shelly and "
                    "Tasmota plugs; IPP printers) and print devices.yaml entries for them, or "
                    "add them (--write).",
        "discover.subnets": "Subnets to sweep, e.g. 192.0.2.0/24 (default: this box's own "
                            "LAN).",
        "discover.community": "SNMP v2c community to try (repeatable; default: public).",
        "discover.write": "Add what is new to --config, keeping its comments and order.",
        "discover.concurrency": "Hosts probed at once.",
        "discover.rate": "Hosts probed per second, at most.",
        "discover.timeout": "Seconds to wait for each answer.",
        "discover.snmp_port": "SNMP port to probe.",
        "discover.http_port": "HTTP port of smart plugs.",
        "discover.neighbours": "Also probe hosts in the box's ARP table.",
        "discover.reload": "After --write, have the running hcc-agent service read the file "
                           "now (systemctl reload; no restart).",
        "enroll": "Give this box its own broker credentials: trade the code over HTTPS (pinned to "
                  "the fingerprint), write the password and CA beside devices.yaml, set its mqtt: "
                  "section, validate it and restart the service.",
        "enroll.url": "The controller, e.g. https://hcc.city.vn:8443",
        "enroll.code": "The one-time code from hcc-controller enroll.",
        "enroll.fingerprint": "The controller certificate's SHA-256, as hcc-controller enroll "
                              "printed it.",
        "enroll.restart": "Restart the hcc-agent service afterwards.",
        "run": "Poll every device at its interval and report over MQTT until stopped (the "
               "service mode).",
        "run.broker": "Override mqtt.url, e.g. mqtt://host:1883",
        "run.log_level": "debug, info, warning or error",
        "check": "Run every check once now and show what is wrong, in plain words.",
        "check.device": "Only this device id.",
        "check.json": "One JSON object per device (JSON Lines).",
        "status": "Show what the running agent last did: broker link, backlog, each device's "
                  "last poll.",
        "status.json": "Print the raw status as JSON.",
    },
}


LANG = start_lang()


def h(key: str) -> str:
    return HELP[LANG][key]
