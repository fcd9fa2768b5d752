"""hcc-agent's texts in Vietnamese, keyed by the English written in agent/cli.py: its help and
its output (one catalog, hcc_common.texts; the language is chosen at start from --lang, $HCC_LANG
or the locale: Vietnamese unless it is English)."""

from __future__ import annotations

from hcc_common import texts

VI = texts.register({
    'hcc-agent watches the devices of one service center and reports them to the city.':
        'hcc-agent theo dõi các thiết bị của một trung tâm phục vụ hành chính công và báo về thành phố.',
    "The center's devices.yaml (default: /etc/hcc-agent/devices.yaml when it exists, else ./devices.yaml).":
        'Tệp devices.yaml của trung tâm (mặc định: /etc/hcc-agent/devices.yaml nếu có, nếu không thì '
        './devices.yaml).',
    'The devices.yaml to use (instead of --config).':
        'Đường dẫn devices.yaml (thay cho --config).',
    'Language: vi (default) or en.':
        'Ngôn ngữ: vi (mặc định) hoặc en.',
    'Check devices.yaml without polling anything. Exit 0 if valid; if not, print file:line and why, and '
    'exit 1.':
        'Kiểm tra devices.yaml mà không đọc thiết bị nào. Trả về 0 nếu hợp lệ; nếu sai, in tệp:dòng và lý'
        ' do, trả về 1.',
    'Judged away from the box (the controller): the files the config names (password, CA) are not checked.':
        'Kiểm tra ở nơi khác máy giám sát (máy chủ trung tâm): không kiểm tra các tệp mà cấu hình nhắc '
        'tới (mật khẩu, CA).',
    "Find the center's devices (SNMP printers, APs, PDUs, UPSes; Shelly and Tasmota plugs; IPP printers) "
    'and print devices.yaml entries for them, or add them (--write).':
        'Tìm thiết bị của trung tâm (máy in, điểm phát Wi-Fi, ổ cắm PDU, UPS qua SNMP; ổ cắm Shelly, '
        'Tasmota; máy in IPP) và in các mục devices.yaml cho chúng, hoặc thêm vào tệp (--write).',
    "Subnets to sweep, e.g. 192.0.2.0/24 (default: this box's own LAN).":
        'Dải mạng cần dò, ví dụ 192.0.2.0/24 (mặc định: mạng LAN của máy này).',
    'SNMP v2c community to try (repeatable; default: public).':
        'Community SNMP v2c để thử (dùng nhiều lần được; mặc định: public).',
    'Add what is new to --config, keeping its comments and order.':
        'Thêm thiết bị mới vào --config, giữ nguyên chú thích và thứ tự.',
    'Hosts probed at once.':
        'Số máy dò cùng lúc.',
    'Hosts probed per second, at most.':
        'Số máy dò mỗi giây, tối đa.',
    'Seconds to wait for each answer.':
        'Số giây chờ mỗi câu trả lời.',
    'SNMP port to probe.':
        'Cổng SNMP cần dò.',
    'HTTP port of smart plugs.':
        'Cổng HTTP của ổ cắm thông minh.',
    "Also probe hosts in the box's ARP table.":
        'Dò cả các máy trong bảng ARP của máy này.',
    'After --write, have the running hcc-agent service read the file now (systemctl reload; no restart).':
        'Sau --write, báo dịch vụ hcc-agent đang chạy đọc lại tệp ngay (systemctl reload; không khởi động'
        ' lại).',
    'Give this box its own broker credentials: trade the code over HTTPS (pinned to the fingerprint), '
    'write the password and CA beside devices.yaml, set its mqtt: section, validate it and restart the '
    'service.':
        'Cấp cho máy này tài khoản kết nối riêng: đổi mã một lần qua HTTPS (kiểm tra dấu vân tay chứng '
        'chỉ), ghi mật khẩu và CA cạnh devices.yaml, đặt mục mqtt:, kiểm tra rồi khởi động lại dịch vụ.',
    'The controller, e.g. https://hcc.city.vn:8443':
        'Địa chỉ máy chủ trung tâm, ví dụ https://hcc.city.vn:8443',
    'The one-time code from hcc-controller enroll.':
        'Mã một lần do hcc-controller enroll cấp.',
    "The controller certificate's SHA-256, as hcc-controller enroll printed it.":
        'SHA-256 của chứng chỉ máy chủ, như hcc-controller enroll đã in.',
    'Restart the hcc-agent service afterwards.':
        'Khởi động lại dịch vụ hcc-agent sau khi xong.',
    'Poll every device at its interval and report over MQTT until stopped (the service mode).':
        'Đọc từng thiết bị theo chu kỳ và gửi báo cáo qua MQTT cho đến khi dừng (chế độ dịch vụ).',
    'Override mqtt.url, e.g. mqtt://host:1883':
        'Thay mqtt.url, ví dụ mqtt://host:1883',
    'debug, info, warning or error':
        'debug, info, warning hoặc error',
    'Run every check once now and show what is wrong, in plain words.':
        'Kiểm tra ngay mọi thiết bị một lần và nói rõ lỗi gì, bằng lời dễ hiểu.',
    'Only this device id.':
        'Chỉ thiết bị có mã này.',
    'One JSON object per device (JSON Lines).':
        'Mỗi thiết bị một dòng JSON.',
    "Show what the running agent last did: broker link, backlog, each device's last poll.":
        'Xem hcc-agent đang chạy vừa làm gì: kết nối máy chủ, hàng đợi, lần đọc gần nhất của từng thiết bị.',
    'Print the raw status as JSON.':
        'In trạng thái gốc dạng JSON.',
    # hcc-agent's output
    "{file}: OK — center {center}, agent {agent}, {count} device(s)":
        "{file}: hợp lệ — trung tâm {center}, máy giám sát {agent}, {count} thiết bị",
    "no subnet to sweep: give one, e.g. 192.0.2.0/24":
        "không có dải mạng nào để dò: hãy ghi một dải, ví dụ 192.0.2.0/24",
    "probing {count} hosts": "đang dò {count} máy",
    "{count} device(s) found in {nets} ({hosts} hosts probed)":
        "tìm thấy {count} thiết bị trong {nets} (đã dò {hosts} máy)",
    "{file}: {added} device(s) added, {kept} already there":
        "{file}: đã thêm {added} thiết bị, {kept} thiết bị đã có sẵn",
    "{why}: the config is root's (the service only reads it); run: {remedy}":
        "{why}: tệp cấu hình thuộc quyền root (dịch vụ chỉ đọc); hãy chạy: {remedy}",
    "{service} reloaded: the new devices are polled now":
        "{service} đã nạp lại: các thiết bị mới được kiểm tra ngay",
    "warning: systemctl reload {service}: {why}": "cảnh báo: systemctl reload {service}: {why}",
    "a running {service} applies the change within a heartbeat by itself (now: sudo systemctl "
    "reload {service})":
        "{service} đang chạy sẽ tự áp dụng thay đổi sau một nhịp kiểm tra (làm ngay: sudo "
        "systemctl reload {service})",
    "cannot write beside {file}: {why} (run with sudo)":
        "không ghi được tệp cạnh {file}: {why} (hãy chạy với sudo)",
    "enrolled: {center}/{agent} as {user} on {broker}; credentials in {folder}":
        "đã đăng ký: {center}/{agent} với tài khoản {user} trên {broker}; thông tin đăng nhập "
        "nằm trong {folder}",
    "warning: the controller sent no signing key: this box will refuse every pushed config":
        "cảnh báo: máy chủ trung tâm không gửi khóa ký: máy giám sát này sẽ từ chối mọi cấu "
        "hình gửi xuống",
    "the service did not restart: {why}": "dịch vụ không khởi động lại được: {why}",
    "hcc-agent restarted: watch it with `journalctl -u hcc-agent -f`":
        "hcc-agent đã khởi động lại: theo dõi bằng `journalctl -u hcc-agent -f`",
    "config error: {message}": "lỗi cấu hình: {message}",
    "hcc-agent stopped: fix {file} (hcc-agent validate), then: sudo systemctl restart hcc-agent":
        "hcc-agent đã dừng: sửa {file} (kiểm tra bằng hcc-agent validate), rồi chạy: sudo "
        "systemctl restart hcc-agent",
    "no device {device} in {file} (devices: {known})":
        "không có thiết bị {device} trong {file} (các thiết bị: {known})",
    "cannot read {file}: run with sudo": "không đọc được {file}: hãy chạy với sudo",
    "status file {file} unreadable ({why}): the running agent rewrites it at its next heartbeat":
        "tệp trạng thái {file} không đọc được ({why}): hcc-agent đang chạy sẽ ghi lại ở nhịp "
        "kiểm tra sau",
    " or ": " hoặc ",
    "no status yet at {file}: is hcc-agent running with this config?":
        "chưa có trạng thái tại {file}: hcc-agent có đang chạy với cấu hình này không?",
    "status file {file} is not an agent status: the running agent rewrites it at its next "
    "heartbeat":
        "tệp {file} không phải tệp trạng thái của hcc-agent: hcc-agent đang chạy sẽ ghi lại ở "
        "nhịp kiểm tra sau",
    "center {center}  agent {agent}  session {session}":
        "trung tâm {center}  máy giám sát {agent}  phiên {session}",
    "connected": "đã kết nối", "NOT connected": "CHƯA kết nối",
    "broker {broker}: {link}  (status written {age} ago)":
        "máy chủ MQTT {broker}: {link}  (trạng thái ghi cách đây {age})",
    "outbox: {waiting} waiting, oldest {oldest}, {kib} KiB; dropped {routine} routine + {faults} "
    "fault reports; sent unbuffered {unbuffered}":
        "hàng đợi gửi: {waiting} báo cáo đang chờ, cũ nhất {oldest}, {kib} KiB; đã bỏ {routine} "
        "báo cáo thường + {faults} báo cáo lỗi; gửi không qua hàng đợi {unbuffered}",
    "(NO DISK BUFFER: see the log)": "(KHÔNG CÓ HÀNG ĐỢI TRÊN ĐĨA: xem nhật ký)",
    "outbox DAMAGED and set aside as {moved}: {salvaged} report(s) salvaged and sent, "
    "{unreadable} unreadable ({why})":
        "hàng đợi gửi BỊ HỎNG, đã chuyển sang {moved}: cứu được và đã gửi {salvaged} báo cáo, "
        "{unreadable} báo cáo không đọc được ({why})",
    "never": "chưa lần nào", "{age} ago": "{age} trước",
    "  {device} {status} polled {when} faults: {faults}":
        "  {device} {status} kiểm tra {when} lỗi: {faults}",
    # agent/enroll.py's and agent/discover.py's reasons
    "{url}: give the controller's https:// address":
        "{url}: hãy ghi địa chỉ https:// của máy chủ trung tâm",
    "cannot reach {host}: {why}": "không kết nối được {host}: {why}",
    "the controller's certificate is not the one you were given (it has {got}…): do not enroll, "
    "call the central team":
        "chứng chỉ của máy chủ không phải chứng chỉ bạn được cung cấp (nó có {got}…): đừng đăng "
        "ký, hãy gọi nhóm trung tâm",
    "enrollment request failed: {why}": "yêu cầu đăng ký thất bại: {why}",
    "the controller refused: {why}": "máy chủ từ chối: {why}",
    "{net}: only IPv4 subnets are swept": "{net}: chỉ dò được dải mạng IPv4",
    "{net} holds {count} addresses; give at most a /20":
        "{net} có {count} địa chỉ; chỉ dò tối đa một dải /20",
    "{net} is not a subnet; write e.g. 192.0.2.0/24":
        "{net} không phải dải mạng; viết ví dụ 192.0.2.0/24",
}, __name__)
