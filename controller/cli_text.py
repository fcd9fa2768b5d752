"""The controller's texts in Vietnamese, keyed by the English written in the code (hcc_common.texts,
the one catalog): hcc-controller's help and output (alerts, accounts, releases, enrollment,
broker files, reports), and the notes the controller writes in an alert's history."""

from __future__ import annotations

from hcc_common import texts

VI = texts.register({
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
    # accounts: user, token, audit, --as
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
    # release and rollout
    "Signed software releases for the boxes.": "Các bản phát hành phần mềm (có chữ ký) cho box.",
    "Make a release: a manifest of every file with its SHA-256, the target platforms and\n"
    "Python, signed with the controller's key; the files are kept by the controller.":
        "Tạo bản phát hành: danh sách mọi tệp kèm SHA-256, nền tảng và phiên bản Python đích, "
        "ký bằng khóa của máy chủ điều khiển; các tệp được lưu trên máy chủ điều khiển.",
    "A directory made by scripts/build-wheelhouse.sh.":
        "Thư mục tạo bởi scripts/build-wheelhouse.sh.",
    "The release's version (that of its hcc_fleet wheel).":
        "Phiên bản của bản phát hành (phiên bản của gói hcc_fleet trong đó).",
    "Who adds it (recorded).": "Người thêm (được ghi lại).",
    "The releases kept, newest first.": "Các bản phát hành đang lưu, mới nhất trước.",
    "Delete a release (not while a rollout of it is under way).":
        "Xóa một bản phát hành (không được khi đang có đợt cập nhật dùng nó).",
    "The release's version.": "Phiên bản của bản phát hành.",
    "Staged rollouts of a release to the fleet.":
        "Cập nhật phần mềm cho các box theo từng đợt.",
    "Roll VERSION out: the canary first, then batches, each once the last is healthy.":
        "Cập nhật lên VERSION: các box thử nghiệm trước, rồi từng nhóm, nhóm sau chỉ bắt đầu khi "
        "nhóm trước chạy tốt.",
    "The release to roll out.": "Bản phát hành cần cập nhật.",
    "Boxes updated first, alone.": "Số box được cập nhật trước tiên (thử nghiệm).",
    "The canary as centers (comma-separated) instead of --canary N.":
        "Chọn box thử nghiệm theo trung tâm (cách nhau bởi dấu phẩy) thay cho --canary N.",
    "Boxes per batch after the canary.": "Số box mỗi nhóm sau đợt thử nghiệm.",
    "Pause (not halt) on a failure.": "Tạm dừng (không dừng hẳn) khi có lỗi.",
    "Allow a version older than the one a box runs (a fleet rollback).":
        "Cho phép phiên bản cũ hơn phiên bản box đang chạy (quay lại bản cũ cho cả hệ thống).",
    "Seconds online a box has to show the new version healthy.":
        "Số giây (khi đang kết nối) để box chứng tỏ phiên bản mới chạy tốt.",
    "A rollout's progress, and every box that failed with its reason.":
        "Tiến độ của đợt cập nhật, và mọi box bị lỗi kèm lý do.",
    "Default: the newest.": "Mặc định: đợt mới nhất.",
    "Send no further wave (boxes already updating finish).":
        "Không gửi thêm nhóm nào (các box đang cập nhật vẫn làm xong).",
    "Go on after a pause or a halt (failed boxes stay on their old version).":
        "Tiếp tục sau khi tạm dừng hoặc dừng (box bị lỗi giữ phiên bản cũ).",
    "Stop for good: boxes not yet updated (offline ones included) get nothing.":
        "Dừng hẳn: các box chưa cập nhật (kể cả box đang mất kết nối) không nhận gì nữa.",
    # hcc-controller's output
    "config error: {message}": "lỗi cấu hình: {message}",
    "no database at {db} (has the controller run? use --db)":
        "không có cơ sở dữ liệu tại {db} (máy chủ đã chạy lần nào chưa? hoặc dùng --db)",
    "no folder {folder} for the database (install.sh makes it; or give --db)":
        "không có thư mục {folder} cho cơ sở dữ liệu (install.sh tạo thư mục này; hoặc dùng --db)",
    "No alerts.": "Không có cảnh báo nào.",
    "[silenced]": "[tạm tắt]",
    "(since {time})": "(từ {time})",
    "cannot reach {url}: {why}": "không kết nối được {url}: {why}",
    "the controller refused: give a valid --token (or $HCC_TOKEN)":
        "máy chủ từ chối: hãy dùng --token hợp lệ (hoặc $HCC_TOKEN)",
    "no alert {id}": "không có cảnh báo {id}",
    "mosquitto config: {file}  (start: mosquitto -c {file})":
        "cấu hình mosquitto: {file}  (chạy: mosquitto -c {file})",
    "CA for agents: {file}": "CA cho các máy giám sát: {file}",
    "passwords (one file per user, mode 600): {folder}/":
        "mật khẩu (mỗi tài khoản một tệp, quyền 600): {folder}/",
    "{count} box(es); give a box its credentials with: hcc-controller credentials CENTER --agent "
    "AGENT --broker-dir {folder} --out FILE":
        "{count} máy giám sát; cấp thông tin đăng nhập cho một máy bằng: hcc-controller "
        "credentials CENTER --agent AGENT --broker-dir {folder} --out FILE",
    "written here: {password} and {ca}; reload mosquitto to apply (systemctl reload mosquitto)":
        "đã ghi tại đây: {password} và {ca}; nạp lại mosquitto để áp dụng (systemctl reload "
        "mosquitto)",
    "copy both to the box (scp), then on the box:":
        "chép cả hai tệp sang máy giám sát (scp), rồi chạy trên máy giám sát:",
    "and in the box's devices.yaml:": "và trong devices.yaml của máy giám sát:",
    "--center and --all: choose one": "--center và --all: chỉ chọn một",
    "{file} ({size} bytes, {period})": "{file} ({size} byte, {period})",
    "{box} is not a valid CENTER/AGENT": "{box} không phải dạng CENTER/AGENT hợp lệ",
    "code for {box}: {code} (single use, valid {minutes} min)":
        "mã cho {box}: {code} (dùng một lần, hiệu lực {minutes} phút)",
    "on the box: {command}": "trên máy giám sát, chạy: {command}",
    "enrollment needs enroll: and http: with tls_cert/tls_key in controller.yaml "
    "(docs/operations.md)":
        "để đăng ký máy giám sát, controller.yaml cần mục enroll: và mục http: có tls_cert/"
        "tls_key (xem docs/operations.md)",
    # the controller's own notes in an alert's history (controller/state.py)
    "condition cleared": "sự cố đã hết",
    "clock back in step": "đồng hồ đã chạy đúng lại",
    "agent back online": "máy giám sát đã kết nối lại",
    "grouped into center.lan_down": "gộp vào cảnh báo mất mạng của trung tâm",
    "center network back": "mạng của trung tâm đã hoạt động lại",
    # report errors (controller/report.py, controller/reporting.py)
    "month {month}: write YYYY-MM, e.g. 2026-11": "tháng {month}: viết YYYY-MM, ví dụ 2026-11",
    "month {month}: a report's dates are between {lo} and {hi}":
        "tháng {month}: báo cáo chỉ tính các ngày từ năm {lo} đến năm {hi}",
    "{day}: a report's dates are between {lo} and {hi}":
        "{day}: báo cáo chỉ tính các ngày từ năm {lo} đến năm {hi}",
    "{last} is before {first}": "{last} trước {first}",
    "a report covers at most {days} days (the hourly history kept); {first} to {last} is {span}":
        "một báo cáo tối đa {days} ngày (lịch sử theo giờ được lưu); từ {first} đến {last} là "
        "{span} ngày",
    "a PDF needs Chromium: apt install chromium (or use --format html)":
        "bản PDF cần Chromium: apt install chromium (hoặc dùng --format html)",
    "Chromium made no PDF: {why}": "Chromium không tạo được PDF: {why}",
    "give a month, or from and to, not both": "ghi một tháng, hoặc ngày đầu và ngày cuối, không "
        "ghi cả hai",
    "give a month (e.g. 2026-11), or both from and to (YYYY-MM-DD)":
        "ghi một tháng (ví dụ 2026-11), hoặc cả ngày đầu và ngày cuối (YYYY-MM-DD)",
    "dates {first}, {last}: write YYYY-MM-DD": "ngày {first}, {last}: viết YYYY-MM-DD",
    "format must be one of {formats}": "định dạng phải là một trong: {formats}",
    "lang must be vi or en": "ngôn ngữ phải là vi hoặc en",
    "unknown center {center}": "không có trung tâm {center}",
    # hcc-controller user/token/audit output (controller/cli_accounts.py)
    "the account {name} (from {source}) is disabled: ask an admin, or use --as NAME with your "
    "own account":
        "tài khoản {name} (lấy từ {source}) đã bị khóa; nhờ quản trị viên mở lại hoặc dùng --as "
        "TÊN với tài khoản của bạn",
    "no account yet: hcc-controller always acts as an account. Make the first admin (you, "
    "{name}) with:\n  {command}":
        "chưa có tài khoản nào: hcc-controller luôn thao tác dưới tên một tài khoản. Tạo quản "
        "trị viên đầu tiên (chính bạn, {name}) bằng lệnh:\n  {command}",
    "no enabled account {name} (from {source}) for the CLI: use --as NAME with your own "
    "account, or ask an admin to make it:\n  {command}":
        "không có tài khoản nào tên {name} (lấy từ {source}) để thao tác: dùng --as TÊN với tài "
        "khoản của bạn, hoặc nhờ quản trị viên tạo:\n  {command}",
    "no center {center}": "không có trung tâm {center}",
    "{name} is a {role}: a {role} may not {action}":
        "{name} là {role}: vai trò {role} không được {action}",
    "read this": "xem mục này", "acknowledge alerts": "nhận cảnh báo",
    "resolve alerts": "đóng cảnh báo", "add notes": "thêm ghi chú",
    "silence alerts": "tạm tắt cảnh báo", "escalate": "báo lên cấp trên",
    "read the whole city's metrics": "xem số liệu của cả thành phố",
    "manage accounts and tokens": "quản lý tài khoản và token",
    "read the audit trail": "xem nhật ký thao tác",
    "push box configs": "gửi cấu hình xuống máy giám sát", "enroll boxes": "đăng ký máy giám sát",
    "publish releases": "phát hành phần mềm",
    "read the whole fleet's rollouts": "xem các đợt cập nhật của mọi máy giám sát",
    "get a center's staff link": "lấy đường dẫn dành cho nhân viên của trung tâm",
    "replace a center's QR codes": "đổi mã QR của trung tâm",
    "the two passwords differ": "hai lần nhập mật khẩu không giống nhau",
    "the first account must be an admin: {command}":
        "tài khoản đầu tiên phải là quản trị viên: {command}",
    "every center": "mọi trung tâm", "group {group}": "nhóm {group}",
    "account {name} made: {role}, {scope}": "đã tạo tài khoản {name}: {role}, {scope}",
    "(disabled)": "(đã khóa)", "account {name} disabled": "đã khóa tài khoản {name}",
    "give --password-file": "hãy dùng --password-file",
    "password set for {name}": "đã đặt mật khẩu cho {name}",
    "--valid: between 1m and {days}d": "--valid: từ 1m đến {days}d",
    "token #{id} {label} of {name}: written to {file}, expires {day}":
        "token #{id} {label} của {name}: đã ghi vào {file}, hết hạn {day}",
    "give --label or --id": "hãy dùng --label hoặc --id",
    "token #{id} {label} of {name} revoked": "đã thu hồi token #{id} {label} của {name}",
    "expires {day} last used {last}": "hết hạn {day} dùng lần cuối {last}",
    "(revoked)": "(đã thu hồi)",
    "--since: a duration (7d) or an ISO 8601 time":
        "--since: một khoảng thời gian (7d) hoặc một thời điểm ISO 8601",
    "password: ": "mật khẩu: ", "again: ": "nhập lại: ",
    "note: not written to the audit trail ({why})": "chú ý: không ghi được nhật ký thao tác ({why})",
    # controller/accounts.py's reasons (AccountError)
    "a password needs at least {n} characters": "mật khẩu cần ít nhất {n} ký tự",
    "{name} is not a valid account name (letters, digits, - _ .)":
        "{name} không phải tên tài khoản hợp lệ (chữ, số, - _ .)",
    "role must be one of {roles}": "vai trò phải là một trong: {roles}",
    "{center} is not a valid center id": "{center} không phải mã trung tâm hợp lệ",
    "no group {group} in controller.yaml (groups:)":
        "không có nhóm {group} trong controller.yaml (mục groups:)",
    "a {role} needs a scope: --center or --group":
        "vai trò {role} cần phạm vi: --center hoặc --group",
    "account {name} exists already": "tài khoản {name} đã có",
    "no account {name}": "không có tài khoản {name}",
    "no enabled account {name}": "không có tài khoản {name} đang dùng được",
    "a token needs a label (at most 100 characters)": "token cần một nhãn (tối đa 100 ký tự)",
    "no live token of {name} matches": "không có token nào còn hiệu lực của {name} khớp",
    # hcc-controller agents, partitions, silence, http-cert, signing-key, dead letters, qr,
    # oncall, config …
    "seen {seen}  seq {seq}  received {received}  gaps {gaps}  dup {dup}  skew {skew}s":
        "liên lạc lúc {seen}  seq {seq}  đã nhận {received}  bị thiếu {gaps}  trùng {dup}  lệch "
        "giờ {skew}s",
    "v{software}  config {config}  {devices} devices  {model}  {os}  up since {since}":
        "v{software}  cấu hình {config}  {devices} thiết bị  {model}  {os}  chạy từ {since}",
    "update to {version}: {state}  {reason}": "cập nhật lên {version}: {state}  {reason}",
    "no partition is held: one controller serves every center, or none runs":
        "không phân vùng nào có chủ: một máy chủ phục vụ mọi trung tâm, hoặc không máy nào chạy",
    "{parts} partitions  {centers} centers  {list}":
        "{parts} phân vùng  {centers} trung tâm  {list}",
    "(nobody: moving)": "(chưa ai: đang chuyển)", "{count} centers": "{count} trung tâm",
    "until {end} by {author}: {reason}": "đến {end}, bởi {author}: {reason}",
    "no silence {id}": "không có lần tạm tắt {id}",
    "silence #{id} ended": "đã kết thúc lần tạm tắt #{id}",
    "silence #{id} until {end}": "tạm tắt #{id} đến {end}",
    "{why} (run it with sudo)": "{why} (hãy chạy với sudo)",
    "certificate {cert}, key {key} (SHA-256 {fingerprint})":
        "chứng chỉ {cert}, khóa {key} (SHA-256 {fingerprint})",
    "in controller.yaml: {section}": "trong controller.yaml: {section}",
    "made: {file} (keep it; mode 600)": "đã tạo: {file} (giữ kỹ; quyền 600)",
    "key: {file} (keep it; mode 600)": "khóa: {file} (giữ kỹ; quyền 600)",
    "inline, for agent.controller_keys: {key}": "dạng một dòng, cho agent.controller_keys: {key}",
    "({size} bytes)": "({size} byte)", "no dead letters": "không có tin nào bị gác lại",
    "no center {center} in controller.yaml": "không có trung tâm {center} trong controller.yaml",
    "{file}: {count} labels for {center}": "{file}: {count} nhãn cho {center}",
    "no on-call roster covers {center} in the config":
        "không có lịch trực nào cho {center} trong cấu hình",
    "no on-call roster in the config": "không có lịch trực nào trong cấu hình",
    "--at {value}: write ISO 8601, e.g. 2026-12-01T08:00+07:00":
        "--at {value}: viết theo ISO 8601, ví dụ 2026-12-01T08:00+07:00",
    "nobody on duty (off hours)": "không có ai trực (ngoài ca)",
    "the file is for center {other}, not {center}": "tệp này của trung tâm {other}, không phải {center}",
    "{box}: version {version} pushed": "{box}: đã gửi phiên bản {version}",
    "(was {version})": "(trước đó {version})", "(unchanged)": "(không đổi)",
    "{center} has no box that reported yet": "{center} chưa có máy giám sát nào gửi báo cáo",
    "{center} has boxes {boxes}: give --agent": "{center} có các máy giám sát {boxes}: hãy dùng --agent",
    "no answer from {box} in {seconds} s: the running controller sends the request, and the "
    "box must be online":
        "{box} không trả lời sau {seconds} giây: máy chủ đang chạy gửi yêu cầu, và máy giám sát "
        "phải đang kết nối",
    "{file} exists and differs from the box's file: see it with `config diff`, or replace it "
    "with --force":
        "{file} đã có và khác tệp của máy giám sát: xem bằng `config diff`, hoặc ghi đè bằng "
        "--force",
    "{why} (run it as the service user: sudo -u hcc-controller …)":
        "{why} (hãy chạy dưới tài khoản của dịch vụ: sudo -u hcc-controller …)",
    "its own devices.yaml": "devices.yaml của chính nó",
    "the version pushed to it": "phiên bản đã gửi xuống",
    "{box}: {file} (version {version}, {what})": "{box}: {file} (phiên bản {version}, {what})",
    "warning: the file does not validate here (above); fix it before config push":
        "cảnh báo: tệp không hợp lệ (xem trên); sửa trước khi config push",
    "nothing pushed yet: every box runs its own devices.yaml (bring one here with "
    "`hcc-controller config pull CENTER`, then `config push CENTER`)":
        "chưa gửi cấu hình nào: mỗi máy giám sát chạy devices.yaml của nó (lấy về bằng "
        "`hcc-controller config pull CENTER`, rồi `config push CENTER`)",
    "desired {desired}  applied {applied}  {state}": "cần chạy {desired}  đang chạy {applied}  {state}",
    "in sync": "đã khớp", "pending": "đang chờ", "error": "lỗi",
    "in sync, local file edited (ignored)": "đã khớp, tệp tại chỗ bị sửa (bỏ qua)",
    "nothing was ever pushed to {center}": "chưa từng gửi cấu hình nào cho {center}",
    "no version {version} for {box}": "không có phiên bản {version} cho {box}",
    "no version before {version} for {box}": "không có phiên bản nào trước {version} cho {box}",
    "{box}: back to version {version} (was {before})":
        "{box}: đã quay lại phiên bản {version} (trước đó {before})",
    "the controller's SQLite database (controller.yaml db:) is damaged ({why}). It is left as it "
    "is, not replaced: stop the service, restore the file from a backup (or move it away to "
    "start empty), then start again.":
        "cơ sở dữ liệu SQLite của máy chủ (controller.yaml db:) bị hỏng ({why}). Tệp được giữ "
        "nguyên, không bị thay: dừng dịch vụ, khôi phục tệp từ bản sao lưu (hoặc chuyển tệp đi "
        "để bắt đầu trống), rồi khởi động lại.",
    # hcc-controller release / rollout output, and the reasons of controller/rollout.py,
    # controller/rollout_service.py and hcc_common/release.py
    "release {version}: {files} files, {size} bytes, platforms {platforms}, Python {python}; "
    "signed":
        "bản phát hành {version}: {files} tệp, {size} byte, nền tảng {platforms}, Python "
        "{python}; đã ký",
    "any": "bất kỳ",
    "{files} files {size} bytes  {platforms}  by {author}":
        "{files} tệp {size} byte  {platforms}  bởi {author}",
    "release {version} removed": "đã xóa bản phát hành {version}",
    "rollout {id}: {version} to {boxes} boxes in {waves} waves (canary {canary}, then batches "
    "of {batch})":
        "đợt cập nhật {id}: {version} cho {boxes} máy giám sát trong {waves} nhóm (thử nghiệm "
        "{canary} máy, rồi mỗi nhóm {batch} máy)",
    "no rollout": "không có đợt cập nhật nào",
    "rollout {id}: {version} {state}  wave {wave}/{waves}  healthy {healthy}  updating "
    "{updating}  waiting {waiting}  failed {failed}":
        "đợt cập nhật {id}: {version} {state}  nhóm {wave}/{waves}  chạy tốt {healthy}  đang "
        "cập nhật {updating}  đang chờ {waiting}  lỗi {failed}",
    "halted: {reason}": "đã dừng: {reason}", "FAILED {reason}": "LỖI {reason}",
    "offline, updates on return": "mất kết nối, sẽ cập nhật khi kết nối lại",
    "rollout {id}: {state}": "đợt cập nhật {id}: {state}",
    "running": "đang chạy", "paused": "tạm dừng", "halted": "đã dừng", "aborted": "đã hủy",
    "done": "xong", "waiting": "đang chờ", "sent": "đang cập nhật", "healthy": "chạy tốt",
    "failed": "lỗi",
    "--batch must be at least 1": "--batch phải từ 1 trở lên",
    "no box to update (none enrolled or declared)":
        "không có máy giám sát nào để cập nhật (chưa đăng ký hoặc khai báo máy nào)",
    "--centers: no box in {centers}": "--centers: không có máy giám sát nào ở {centers}",
    "--canary must be at least 1": "--canary phải từ 1 trở lên",
    "rollout {id} is {state}, not running": "đợt cập nhật {id} đang ở trạng thái {state}, không chạy",
    "rollout {id} is {state}: only a paused or halted one resumes":
        "đợt cập nhật {id} đang ở trạng thái {state}: chỉ đợt tạm dừng hoặc đã dừng mới tiếp tục được",
    "rollout {id} is already {state}": "đợt cập nhật {id} đã ở trạng thái {state}",
    "release {version} exists already (release remove it first)":
        "bản phát hành {version} đã có (xóa bằng release remove trước)",
    "no release {version}": "không có bản phát hành {version}",
    "no release {version} (release add it first)":
        "không có bản phát hành {version} (thêm bằng release add trước)",
    "version {version}: expected digits and dots (e.g. 1.4.2)":
        "phiên bản {version}: chỉ gồm chữ số và dấu chấm (ví dụ 1.4.2)",
    "--version {version}: expected digits and dots (e.g. 1.4.2)":
        "--version {version}: chỉ gồm chữ số và dấu chấm (ví dụ 1.4.2)",
    "release {version} is in rollout {id} (rollout abort {id} first)":
        "bản phát hành {version} đang dùng trong đợt cập nhật {id} (chạy rollout abort {id} "
        "trước)",
    "rollout {id} ({version}) is {state}: abort it first":
        "đợt cập nhật {id} ({version}) đang ở trạng thái {state}: hủy nó trước",
    "{folder}: not a directory (build it with scripts/build-wheelhouse.sh)":
        "{folder}: không phải thư mục (tạo bằng scripts/build-wheelhouse.sh)",
    "{folder}: {count} files, more than {most}": "{folder}: {count} tệp, nhiều hơn {most}",
    "{folder}: needs exactly one {project} wheel of version {version} (found: {found})":
        "{folder}: cần đúng một gói wheel {project} phiên bản {version} (tìm thấy: {found})",
    "{folder}: wheels for several Pythons ({pythons})":
        "{folder}: có gói wheel cho nhiều phiên bản Python ({pythons})",
    "{path}: not a plain file a wheelhouse holds": "{path}: không phải tệp thường của wheelhouse",
    "{path}: not a wheel or source archive": "{path}: không phải gói wheel hay gói mã nguồn",
    "{path}: {size} bytes, more than {most}": "{path}: {size} byte, nhiều hơn {most}",
    "release signature refused: {why}": "chữ ký bản phát hành bị từ chối: {why}",
    # controller/brokerconf.py, controller/signing_key.py, controller/qr_labels.py
    "{box}: expected CENTER/AGENT, e.g. ba-dinh/pi-1": "{box}: cần dạng CENTER/AGENT, ví dụ ba-dinh/pi-1",
    "{file}: expected an EC private key": "{file}: cần một khóa riêng EC",
    "acl: no controller user with its grants (topic read hcc/v1/# ...): run broker-config again":
        "acl: không có tài khoản máy chủ với quyền của nó (topic read hcc/v1/# ...): chạy lại "
        "broker-config",
    "mosquitto_passwd left users unhashed": "mosquitto_passwd chưa băm mật khẩu của một số tài khoản",
    "give both --ca-cert and --ca-key, or neither": "dùng cả --ca-cert và --ca-key, hoặc không dùng cả hai",
    "{folder} holds no broker config: run broker-config first":
        "{folder} chưa có cấu hình máy chủ MQTT: chạy broker-config trước",
    "acl: user {user} appears twice": "acl: tài khoản {user} xuất hiện hai lần",
    "no user {user} on this machine (--owner)": "máy này không có tài khoản {user} (--owner)",
    "{user} is not a valid controller user name": "{user} không phải tên tài khoản máy chủ hợp lệ",
    "acl: grants before any user: {line}": "acl: có quyền trước khi khai báo tài khoản: {line}",
    "acl: box user {user} has grants other than its own":
        "acl: tài khoản máy giám sát {user} có quyền ngoài phần của nó",
    "mosquitto_passwd failed: {why}": "mosquitto_passwd lỗi: {why}",
    "cannot give {file} to {user}: run as root, or give --owner the user you run mosquitto as":
        "không chuyển được {file} cho {user}: chạy với quyền root, hoặc dùng --owner với tài "
        "khoản chạy mosquitto",
    "{file}: cannot create the signing key: {why}": "{file}: không tạo được khóa ký: {why}",
    "{file}: cannot read the signing key: {why}": "{file}: không đọc được khóa ký: {why}",
    "{file}: the signing key is readable by others (chmod 600 {file})":
        "{file}: người khác đọc được khóa ký (chmod 600 {file})",
    "{file}: signing.also_sign_with names a missing key":
        "{file}: signing.also_sign_with ghi một khóa không có",
    "center {center} declares no amenities in controller.yaml":
        "trung tâm {center} chưa khai báo tiện ích nào trong controller.yaml",
    "the controller's public address is needed in the QR codes: set http.public_url in "
    "controller.yaml, or give --base-url":
        "mã QR cần địa chỉ công khai của máy chủ: đặt http.public_url trong controller.yaml, "
        "hoặc dùng --base-url",
    # CONTROLLER_TEXTS
}, __name__)
