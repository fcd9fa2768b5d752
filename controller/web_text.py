"""The pages' words in Vietnamese, keyed by the English each page's script writes (its TEXT.en
table): a part of the one catalog (hcc_common.texts). The browser gets them as
controller/web/texts.js, generated from here: python -m controller.web_text > controller/web/texts.js
(a test checks it is current)."""

from __future__ import annotations

import json

from hcc_common import texts

VI = texts.register({
    'Service-center hardware monitor': 'Giám sát thiết bị các trung tâm',
    'Filter centers, devices…': 'Lọc trung tâm, thiết bị…',
    'Sign out': 'Đăng xuất',
    'Audit trail': 'Nhật ký thao tác',
    'Centers': 'Trung tâm',
    'Open alerts': 'Cảnh báo đang mở',
    'Severity': 'Mức',
    'Center': 'Trung tâm',
    'Problem': 'Sự cố',
    'Since': 'Từ lúc',
    'State': 'Trạng thái',
    'Action': 'Xử lý',
    'Devices': 'Thiết bị',
    'Acknowledge': 'Đã nhận',
    'Resolve': 'Đã xử lý',
    'note': 'ghi chú',
    'live': 'trực tiếp',
    'disconnected': 'mất kết nối',
    'firing': 'đang báo',
    'acknowledged': 'đã nhận',
    'resolved': 'đã xử lý',
    'All good': 'Bình thường',
    'alerts': 'cảnh báo',
    'alert': 'cảnh báo',
    'silenced': 'tạm tắt',
    'Tiếng Việt': 'English',
    'offline': 'mất kết nối',
    'devices': 'thiết bị',
    'update failed': 'cập nhật lỗi',
    'Your session has ended: sign in again.': 'Phiên đăng nhập đã hết: đăng nhập lại.',
    'Your account may not do this.': 'Tài khoản của bạn không được làm việc này.',
    'by': 'bởi',
    'critical': 'nghiêm trọng',
    'warning': 'cảnh báo',
    'info': 'thông tin',
    'No open alerts.': 'Không có cảnh báo nào.',
    'ok': 'tốt',
    'unreachable': 'mất kết nối',
    'pending': 'đang chờ',
    'Reports': 'Báo cáo',
    '← Dashboard': '← Bảng điều khiển',
    'Download CSV': 'Tải CSV',
    'At': 'Lúc',
    'Account': 'Tài khoản',
    'From': 'Từ',
    'Operation': 'Thao tác',
    'Target': 'Đối tượng',
    'Before': 'Trước',
    'After': 'Sau',
    'Nothing recorded yet.': 'Chưa có thao tác nào.',
    'Current faults': 'Lỗi hiện tại',
    'Readings now': 'Số liệu hiện tại',
    'History': 'Lịch sử',
    '7 days': '7 ngày',
    '30 days': '30 ngày',
    'Reachability': 'Kết nối',
    "This device's alerts": 'Cảnh báo của thiết bị',
    'Other readings': 'Số liệu khác',
    'on': 'bật',
    'off': 'tắt',
    'up': 'hoạt động',
    'down / unreachable': 'hỏng / mất kết nối',
    'no data': 'không có dữ liệu',
    'No faults.': 'Không có lỗi.',
    'No alerts yet.': 'Chưa có cảnh báo nào.',
    'No data yet.': 'Chưa có dữ liệu.',
    'Updated': 'Cập nhật',
    'opened': 'mở lúc',
    'No such device.': 'Không tìm thấy thiết bị.',
    'per hour': 'theo giờ',
    'every check': 'mỗi lần kiểm tra',
    'Time': 'Thời gian',
    'A PDF needs signing in: sign in, then open this page again.':
        'Cần đăng nhập để tải PDF: đăng nhập rồi mở lại trang này.',
    'Many PDF reports are being made: try again in {s} s.':
        'Đang có nhiều báo cáo PDF được tạo: thử lại sau {s} giây.',
    'Making the PDF…': 'Đang tạo PDF…',
    'Sign in': 'Đăng nhập',
    'Account name': 'Tên tài khoản',
    'Password': 'Mật khẩu',
    'Wrong name or password, or the account is locked for a while.':
        'Sai tên hoặc mật khẩu, hoặc tài khoản đang bị khóa tạm thời.',
    'Too many wrong sign-ins from this computer: wait a minute and try again.':
        'Sai quá nhiều lần từ máy này: chờ một phút rồi thử lại.',
    'Service-center status': 'Tình trạng các trung tâm',
    'down': 'mất kết nối',
    # the report (controller/report_render.py): its headings, columns and notes
    'Service-center hardware report': 'Báo cáo thiết bị các trung tâm',
    'Period': 'Kỳ báo cáo',
    'Made': 'Lập lúc',
    'Scope': 'Phạm vi',
    'the whole city': 'toàn thành phố',
    'Summary': 'Tóm tắt',
    'City-wide availability': 'Sẵn sàng toàn thành phố',
    'Incidents': 'Sự cố',
    'Mean time to acknowledge (MTTA)': 'Thời gian tiếp nhận TB (MTTA)',
    'Mean time to resolve (MTTR)': 'Thời gian khắc phục TB (MTTR)',
    'Pages printed': 'Trang đã in',
    'Supplies to order': 'Mực cần đặt',
    'Availability (opening hours)': 'Mức sẵn sàng (trong giờ làm việc)',
    'Per center': 'Theo trung tâm',
    'Per device type': 'Theo loại thiết bị',
    'Per device': 'Theo thiết bị',
    'Device': 'Thiết bị',
    'Type': 'Loại',
    'Open hours': 'Giờ mở cửa',
    'Hours down': 'Giờ hỏng',
    'Hours without data': 'Giờ không có dữ liệu',
    'Availability': 'Sẵn sàng',
    'Acknowledged': 'Đã tiếp nhận',
    'Resolved': 'Đã xử lý',
    'Most recurring faults': 'Lỗi lặp lại nhiều nhất',
    'Recurring faults per model': 'Lỗi lặp lại theo mẫu thiết bị',
    'Model': 'Mẫu thiết bị',
    'Fault': 'Lỗi',
    'Times': 'Số lần',
    'Printer': 'Máy in',
    'Toner, ink and supplies': 'Mực in và vật tư',
    'Order supplies for these printers within {days} days': 'Đặt mực cho các máy in này trong {days} ngày',
    'Nothing needs ordering in the next {days} days.': 'Không có vật tư nào cần đặt trong {days} ngày tới.',
    'Order {lead} days before empty (delivery time).':
        'Đặt trước khi hết {lead} ngày (thời gian giao hàng).',
    'Supply': 'Vật tư',
    'Level': 'Mức còn',
    'Used in period': 'Đã dùng trong kỳ',
    'Replaced': 'Thay mới',
    'Use per day': 'Tiêu hao/ngày',
    'Days left': 'Còn (ngày)',
    'Empty on': 'Dự kiến hết',
    'Order by': 'Đặt trước ngày',
    'Confidence': 'Độ tin cậy',
    'high': 'cao',
    'medium': 'trung bình',
    'low': 'thấp',
    'no forecast': 'không dự báo được',
    'Peak (clients)': 'Cao điểm (thiết bị)',
    'Average (clients)': 'Trung bình (thiết bị)',
    'Open hours with no clients': 'Giờ mở cửa không có ai dùng',
    'Open hours with data': 'Giờ mở cửa có dữ liệu',
    'Speed users get (Mbit/s)': 'Tốc độ khách đo được (Mbit/s)',
    'No data in the period.': 'Không có dữ liệu trong kỳ.',
    'City-wide': 'Toàn thành phố',
    'What the columns mean': 'Giải thích các cột',
    'h': 'giờ',
    'min': 'phút',
    'Month': 'Tháng',
    'All': 'Tất cả',
    'Show': 'Xem',
    'Language': 'Ngôn ngữ',
    "Availability = time up / opening time with data. Only the center's opening hours count; its holidays"
    ' (from its calendar) are skipped.':
        'Sẵn sàng = thời gian thiết bị hoạt động / thời gian mở cửa có dữ liệu. Chỉ tính giờ mở cửa của '
        'trung tâm, bỏ ngày lễ theo lịch của trung tâm.',
    'Hours down: unreachable, or a fault that stops the device (out of toner, paper jam, on battery…) '
    'during opening hours.':
        'Giờ hỏng: thiết bị mất kết nối hoặc có lỗi nghiêm trọng (hết mực, kẹt giấy, mất điện…) trong giờ'
        ' mở cửa.',
    "Hours without data: the center's box sent nothing (network or power cut); not counted for or against"
    ' availability.':
        'Giờ không có dữ liệu: máy giám sát không gửi số liệu (mất mạng, mất điện); không tính vào mức '
        'sẵn sàng.',
    'MTTA: mean time from the alert to someone acknowledging it. MTTR: to it being resolved.':
        'MTTA: thời gian trung bình từ lúc cảnh báo đến lúc có người tiếp nhận. MTTR: đến lúc xử lý xong.',
    "Pages: the sum of the page counter's increases; a counter reset or a replaced printer starts a new "
    'baseline.':
        'Số trang: tổng mức tăng của bộ đếm trang; khi bộ đếm bị đặt lại hoặc thay máy, số mới được lấy '
        'làm mốc.',
    'Empty on: a straight line through the hourly levels since the last new cartridge (30 days at most). '
    'High confidence: 14+ days of data and a close fit (R² ≥ 0.9).':
        'Dự kiến hết: đường thẳng qua mức mực từng giờ kể từ lần thay hộp mực gần nhất (tối đa 30 ngày). '
        'Độ tin cậy cao: từ 14 ngày dữ liệu và khớp tốt (R² ≥ 0,9).',
    "Wi-Fi: connected clients, summed over the center's access points, per hour.":
        'Wi-Fi: số thiết bị kết nối, cộng trên các điểm phát của trung tâm, theo giờ.',
    'Number of devices': 'Số thiết bị',
    'Number of centers': 'Số trung tâm',
    'Number of incidents': 'Số sự cố',
    # the report's citizens' section
    "Citizens' reports and the opening checklist": 'Người dân phản ánh và kiểm tra đầu ngày',
    'Time to resolution (median)': 'Thời gian đến khi xử lý (trung vị)',
    'Outside opening hours': 'Ngoài giờ mở cửa',
    'Amenity type': 'Loại tiện ích',
    'Seen by citizens, not by any sensor': 'Người dân thấy mà cảm biến không thấy',
    "The staff's opening checklist": 'Kiểm tra đầu ngày của nhân viên',
    'Items': 'Số mục',
    'Open days': 'Ngày mở cửa',
    'Days fully checked': 'Ngày kiểm tra đủ',
    'Checked': 'Tỉ lệ đã kiểm tra',
    "Citizens' reports": 'Lượt phản ánh',
    'Problem reported': 'Vấn đề',
    'Show more': 'Xem thêm',
    'Showing {n} of {total} centers': 'Đang hiện {n} trên {total} trung tâm',
}, __name__)


def render_js() -> str:
    words = json.dumps(dict(sorted(VI.items())), ensure_ascii=False, indent=0)
    return ("// Generated from controller/web_text.py (python -m controller.web_text > "
            "controller/web/texts.js): the pages' words in\n// Vietnamese, keyed by their English, "
            "from the one catalog (hcc_common/texts.py).\n\"use strict\";\n\n"
            f"const VI_WORDS = Object.freeze({words});\n\n"
            "// A page's English table in Vietnamese: each text the catalog's, else as it is.\n"
            "function inVietnamese(english) {\n"
            "  return Object.fromEntries(Object.entries(english).map(([k, v]) => [k, VI_WORDS[v] ?? v]));\n"
            "}\n")


if __name__ == "__main__":
    print(render_js(), end="")
