"""hcc-controller's help texts in Vietnamese, keyed by the English text they replace (the English
stays in the code beside each option; a test checks every one has its Vietnamese here)."""

from __future__ import annotations

from collections.abc import Mapping

VI: Mapping[str, str] = {
    "Another key file (a new key for a rotation).":
        "Một tệp khóa khác (khóa mới khi thay khóa).",
    "Show the key that signs every command to the boxes (made, mode 600, if there is none\n"
    "yet): its file, id and public key. Boxes get the public key when they enroll.":
        "Xem khóa ký mọi lệnh gửi xuống các box (tạo mới, quyền 600, nếu chưa có): tệp, mã "
        "nhận dạng và khóa công khai. Box nhận khóa công khai khi đăng ký (enroll).",
    "hcc-controller collects every center's reports, raises alerts and shows them.":
        "hcc-controller nhận báo cáo của mọi trung tâm, tạo cảnh báo và hiển thị chúng.",
    "Subscribe to every center, keep device state, open and resolve alerts, serve the\n"
    "dashboard and API (with --http or http: in the config), send notifications.":
        "Nhận dữ liệu của mọi trung tâm, giữ trạng thái thiết bị, mở và đóng cảnh báo, chạy "
        "bảng điều khiển và API (với --http hoặc mục http: trong cấu hình), gửi thông báo.",
    "controller.yaml (optional).": "Tệp controller.yaml (không bắt buộc).",
    "Broker URL, e.g. mqtt://127.0.0.1:1883": "Địa chỉ máy chủ MQTT, ví dụ mqtt://127.0.0.1:1883",
    "SQLite database file, or a postgresql:// URL.":
        "Tệp cơ sở dữ liệu SQLite, hoặc địa chỉ postgresql://.",
    "Serve the dashboard and API on HOST:PORT.": "Chạy bảng điều khiển và API tại HOST:PORT.",
    "debug, info, warning or error": "debug, info, warning hoặc error",
    "List open alerts (newest first); --all adds resolved ones; --follow streams changes.":
        "Liệt kê cảnh báo đang mở (mới nhất trước); --all thêm cảnh báo đã xử lý; --follow "
        "theo dõi thay đổi liên tục.",
    "Machine-readable JSON output.": "In dạng JSON cho máy đọc.",
    "The alert's id.": "Số của cảnh báo.",
    "Include resolved alerts.": "Kể cả cảnh báo đã xử lý.",
    "Only this center.": "Chỉ trung tâm này.",
    "Keep printing alert changes as they happen.": "In tiếp các thay đổi cảnh báo khi xảy ra.",
    "Language of messages: vi or en.": "Ngôn ngữ: vi (mặc định) hoặc en.",
    "The fleet: per box its state, last seen, software and config version, model, OS,\n"
    "devices, and delivery health (seq, received, gaps, duplicates, clock skew).":
        "Các máy giám sát: trạng thái, lần liên lạc cuối, phiên bản phần mềm và cấu hình, "
        "mẫu máy, hệ điều hành, số thiết bị, và tình trạng truyền dữ liệu (seq, đã nhận, bị "
        "thiếu, trùng, lệch giờ).",
    "Several controllers (partitions:): which controller serves which partitions, how long\n"
    "each lease has left, and how many centers each serves.":
        "Nhiều máy chủ điều khiển (partitions:): máy nào phục vụ phân vùng nào, hợp đồng thuê "
        "của mỗi phân vùng còn bao lâu, và mỗi máy phục vụ bao nhiêu trung tâm.",
    "Acknowledge an alert: someone is on it (lasts until the alert clears).":
        "Nhận một cảnh báo: đã có người xử lý (giữ đến khi cảnh báo hết).",
    "Why: kept in the alert's history.": "Ghi chú: lưu trong lịch sử cảnh báo.",
    "Your name (default: your login).": "Tên của bạn (mặc định: tên đăng nhập).",
    "Controller URL, e.g. http://hcc:8080 (else the local database is used).":
        "Địa chỉ máy chủ, ví dụ http://hcc:8080 (nếu không, dùng cơ sở dữ liệu tại chỗ).",
    "Bearer token for --url (or $HCC_TOKEN).": "Mã truy cập cho --url (hoặc $HCC_TOKEN).",
    "Resolve an alert by hand, with a note.": "Đóng một cảnh báo bằng tay, kèm ghi chú.",
    "Silence alerts (by center, device, type or code) for a while, e.g. during maintenance.":
        "Tạm tắt cảnh báo (theo trung tâm, thiết bị, loại hoặc mã lỗi) trong một thời gian, "
        "ví dụ khi bảo trì.",
    "Only this device.": "Chỉ thiết bị này.",
    "Only this device type.": "Chỉ loại thiết bị này.",
    "Only this fault code (globs: printer.*).": "Chỉ mã lỗi này (dùng được mẫu: printer.*).",
    "How long: 30m, 2h, 1d.": "Bao lâu: 30m, 2h, 1d.",
    "Why (shown to everyone).": "Lý do (mọi người đều thấy).",
    "List silences not yet over.": "Liệt kê các lần tạm tắt chưa hết hạn.",
    "End silence ID now.": "Kết thúc ngay lần tạm tắt có mã ID.",
    "Write a mosquitto config with TLS, a password per box and per controller, client ids\n"
    "bound to users, an ACL (each box may publish only under hcc/v1/<center>/<agent>/), "
    "crash-safe\npersistence, and a CA and server certificate.":
        "Tạo cấu hình mosquitto có TLS, mật khẩu riêng cho từng máy giám sát và từng máy chủ, "
        "client id gắn với tài khoản, ACL (mỗi máy giám sát chỉ được gửi dưới "
        "hcc/v1/<center>/<agent>/), lưu trữ an toàn khi mất điện, cùng CA và chứng chỉ máy chủ.",
    "Folder for the broker's files.": "Thư mục chứa các tệp của máy chủ MQTT.",
    "A box as CENTER/AGENT (repeatable); default: the agents: of each center in "
    "controller.yaml.":
        "Một máy giám sát dạng CENTER/AGENT (dùng nhiều lần được); mặc định: mục agents: của "
        "từng trung tâm trong controller.yaml.",
    "A controller's broker user (repeatable, one per controller of a shared group); default: "
    "hcc-controller.":
        "Tài khoản MQTT của máy chủ (dùng nhiều lần được, mỗi máy chủ trong nhóm một tài "
        "khoản); mặc định: hcc-controller.",
    "Name or IP agents use for the broker (repeatable).":
        "Tên hoặc IP mà các máy giám sát dùng để tới máy chủ MQTT (dùng nhiều lần được).",
    "TLS port.": "Cổng TLS.",
    "Address the broker listens on.": "Địa chỉ máy chủ MQTT lắng nghe.",
    "User the broker runs as, who must read its password file and key; default: mosquitto "
    "when that user exists. Use --owner '' to leave ownership alone.":
        "Tài khoản chạy máy chủ MQTT, phải đọc được tệp mật khẩu và khóa; mặc định: mosquitto "
        "nếu có. Dùng --owner '' để giữ nguyên quyền sở hữu.",
    "Use this CA certificate.": "Dùng chứng chỉ CA này.",
    "...and this CA key.": "…và khóa CA này.",
    "Issue one box's credentials: a new password (the broker's password file is updated, the\n"
    "old password stops working at the broker's next reload), the CA beside it, and the\n"
    "devices.yaml mqtt: section that refers to them.":
        "Cấp thông tin đăng nhập cho một máy giám sát: mật khẩu mới (tệp mật khẩu của máy chủ "
        "MQTT được cập nhật, mật khẩu cũ hết hiệu lực khi máy chủ nạp lại), CA đi kèm, và mục "
        "mqtt: của devices.yaml trỏ tới chúng.",
    "The center id.": "Mã trung tâm.",
    "Where to write the password (mode 600).": "Nơi ghi mật khẩu (quyền 600).",
    "The folder broker-config wrote.": "Thư mục mà broker-config đã tạo.",
    "The box's agent id (devices.yaml agent.id).": "Mã máy giám sát (agent.id trong devices.yaml).",
    "Broker URL the agent will use.": "Địa chỉ máy chủ MQTT mà máy giám sát sẽ dùng.",
    "Ingest counters as JSON: received, applied, malformed messages, dead letters, messages\n"
    "deferred by the rate limit, write batches.":
        "Bộ đếm tiếp nhận dạng JSON: đã nhận, đã áp dụng, tin sai định dạng, tin bị gác lại, "
        "tin bị hoãn do giới hạn tốc độ, số lần ghi.",
    "Messages set aside because they could not be decoded, applied or stored: when, the\n"
    "topic, why, and the start of the payload. Ingest went on without them.":
        "Các tin bị gác lại vì không giải mã, áp dụng hay lưu được: lúc nào, chủ đề, lý do và "
        "phần đầu nội dung. Việc tiếp nhận vẫn tiếp tục không có chúng.",
    "How many, newest first.": "Bao nhiêu tin, mới nhất trước.",
    "One JSON object per line.": "Mỗi dòng một đối tượng JSON.",
    "The city's report for a month or a span of days: availability in opening hours,\n"
    "incidents (MTTA, MTTR), pages printed, toner use and forecast, the order list, Wi-Fi "
    "use.\nA PDF needs Chromium (apt install chromium).":
        "Báo cáo của thành phố cho một tháng hoặc một khoảng ngày: mức sẵn sàng trong giờ mở "
        "cửa, sự cố (MTTA, MTTR), số trang in, mực đã dùng và dự báo, danh sách cần đặt mực, "
        "mức dùng Wi-Fi. Bản PDF cần Chromium (apt install chromium).",
    "File to write (report.pdf, …).": "Tệp cần ghi (report.pdf, …).",
    "A month, e.g. 2026-11.": "Một tháng, ví dụ 2026-11.",
    "First day, YYYY-MM-DD.": "Ngày đầu, YYYY-MM-DD.",
    "Last day (included), YYYY-MM-DD.": "Ngày cuối (tính cả ngày này), YYYY-MM-DD.",
    "One center (default: all).": "Một trung tâm (mặc định: tất cả).",
    "Every center (the default).": "Mọi trung tâm (mặc định).",
    "html, pdf or csv.": "html, pdf hoặc csv.",
    "html, pdf or csv (default: from --out's extension).":
        "html, pdf hoặc csv (mặc định: theo đuôi tệp của --out).",
    "Who is on duty now (or --at), per roster, and the escalation steps that follow an\n"
    "alert nobody acknowledges.":
        "Ai đang trực lúc này (hoặc lúc --at) theo từng lịch trực, và các bước báo lên cấp "
        "trên khi không ai nhận cảnh báo.",
    "Only the roster of this center.": "Chỉ lịch trực của trung tâm này.",
    "At this time (ISO 8601), not now.": "Vào thời điểm này (ISO 8601), thay vì bây giờ.",
    "Make a one-time code a new box trades for its own broker credentials: on the box,\n"
    "`sudo hcc-agent enroll https://CONTROLLER CODE --fingerprint SHA256`. Enrolling a box "
    "again\n(a replacement) gives it new credentials; the old ones stop working.":
        "Tạo mã dùng một lần để máy giám sát mới đổi lấy thông tin đăng nhập riêng: trên máy "
        "giám sát, chạy `sudo hcc-agent enroll https://CONTROLLER CODE --fingerprint SHA256`. "
        "Đăng ký lại (khi thay máy) cấp thông tin mới; thông tin cũ hết hiệu lực.",
    "The box's agent id.": "Mã của máy giám sát.",
    "How long the code works (default enroll.code_valid, 4h).":
        "Mã có hiệu lực bao lâu (mặc định enroll.code_valid, 4h).",
    "Who made the code (recorded).": "Người tạo mã (được ghi lại).",
    "Each center's devices.yaml, kept centrally and pushed to its box.":
        "Tệp devices.yaml của từng trung tâm, lưu tập trung và gửi xuống máy giám sát.",
    "Validate a center's devices.yaml as the agent would, keep it as a new version (content\n"
    "hash, author, time) and make it the one its box runs; the running controller publishes "
    "it.":
        "Kiểm tra devices.yaml của một trung tâm như máy giám sát sẽ làm, lưu thành phiên bản "
        "mới (mã băm, người sửa, thời gian) và đặt làm bản máy giám sát chạy; máy chủ đang chạy "
        "sẽ gửi xuống.",
    "The devices.yaml to push (default: CONFIG_DIR/CENTER.yaml).":
        "Tệp devices.yaml cần gửi (mặc định: CONFIG_DIR/CENTER.yaml).",
    "Who pushes (recorded).": "Người gửi (được ghi lại).",
    "Per box: the config it should run, the one it runs, and any error (refused with\n"
    "file:line, or rolled back).":
        "Từng máy giám sát: cấu hình cần chạy, cấu hình đang chạy, và lỗi nếu có (bị từ chối "
        "kèm tệp:dòng, hoặc đã quay lại bản cũ).",
    "What CONFIG_DIR/CENTER.yaml would change against the version its box should run.":
        "CONFIG_DIR/CENTER.yaml sẽ thay đổi gì so với phiên bản máy giám sát cần chạy.",
    "Make an earlier version the one the box runs (it is published like a push).":
        "Quay lại một phiên bản trước cho máy giám sát (được gửi xuống như một lần gửi).",
    "The version to go back to (default: the one before the current).":
        "Phiên bản cần quay lại (mặc định: bản ngay trước bản hiện tại).",
    "The box, if the center has several.": "Máy giám sát, nếu trung tâm có nhiều máy.",
    "Who rolls back (recorded).": "Người quay lại bản cũ (được ghi lại).",
    "Make the controller's HTTPS certificate and key (self-signed; boxes pin it by the\n"
    "fingerprint `hcc-controller enroll` prints) with the folder's group and mode 0640.":
        "Tạo chứng chỉ và khóa HTTPS của máy chủ trung tâm (tự ký; máy giám sát kiểm tra bằng "
        "dấu vân tay mà `hcc-controller enroll` in ra), thuộc nhóm của thư mục, quyền 0640.",
    "Folder for http.crt and http.key (/etc/hcc-controller).":
        "Thư mục ghi http.crt và http.key (/etc/hcc-controller).",
    "Name or IP boxes and browsers use for the controller (repeatable).":
        "Tên hoặc IP mà máy giám sát và trình duyệt dùng để vào máy chủ (dùng nhiều lần được).",
    "How long the certificate is valid.": "Thời hạn của chứng chỉ (ngày).",
    "The box's config folder, where the two files go.":
        "Thư mục cấu hình trên máy giám sát, nơi đặt hai tệp này.",
    "Bring the devices.yaml a box runs into CONFIG_DIR/CENTER.yaml (the running controller\n"
    "asks the box over MQTT), so that the next change is made centrally with config push.":
        "Lấy devices.yaml mà máy giám sát đang chạy về CONFIG_DIR/CENTER.yaml (máy chủ đang chạy "
        "hỏi máy giám sát qua MQTT), để lần sửa sau làm ở trung tâm bằng config push.",
    "The box, if the center has several (default: its only one).":
        "Máy giám sát, nếu trung tâm có nhiều máy (mặc định: máy duy nhất).",
    "Seconds to wait for the box's answer.": "Số giây chờ máy giám sát trả lời.",
    "Replace CONFIG_DIR/CENTER.yaml even if it differs.":
        "Ghi đè CONFIG_DIR/CENTER.yaml dù tệp đó khác.",
    "A4 sheets of QR labels, one per amenity: citizens scan them to report a problem.\n"
    "Needs Chromium (apt install chromium).":
        "In nhãn mã QR trên giấy A4, mỗi tiện ích một nhãn: người dân quét mã để báo sự cố. "
        "Cần Chromium (apt install chromium).",
    "The center whose amenities get labels.": "Trung tâm cần in nhãn cho các tiện ích.",
    "The PDF to write (labels.pdf).": "Tệp PDF sẽ ghi ra (labels.pdf).",
    "The controller's address as phones reach it (default: http.public_url).":
        "Địa chỉ máy chủ mà điện thoại truy cập được (mặc định: http.public_url).",
    "New codes for every amenity: the old labels stop working.":
        "Tạo mã mới cho mọi tiện ích: các nhãn cũ không dùng được nữa.",
    "Print the center's staff link (the opening checklist) instead.":
        "In đường dẫn cho cán bộ trung tâm (danh sách kiểm tra đầu ngày) thay cho nhãn.",
}


def _with_accounts(base: Mapping[str, str]) -> Mapping[str, str]:
    from controller.cli_accounts_text import VI as ACCOUNTS

    return {**base, **ACCOUNTS}


VI = _with_accounts(VI)  # the accounts commands' texts live beside them

from controller.release_cli_text import VI as _RELEASE_VI  # noqa: E402

VI = {**VI, **_RELEASE_VI}
