"""The fault vocabulary: stable codes with severity, English and Vietnamese text and a fix-it hint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hcc_common import texts
from hcc_common.wire import FaultReport


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True, kw_only=True)
class FaultDef:
    code: str
    severity: Severity
    en: str
    vi: str
    hint_en: str
    hint_vi: str


def _f(code: str, sev: str, en: str, vi: str, hint_en: str, hint_vi: str) -> FaultDef:
    return FaultDef(code=code, severity=Severity(sev), en=en, vi=vi, hint_en=hint_en, hint_vi=hint_vi)


# Texts may use {placeholders} filled from the fault's params; a missing param renders as "?".
_VOCABULARY: tuple[FaultDef, ...] = (
    # -- any device --------------------------------------------------------------------------
    _f("device.unreachable", "critical", "not responding", "không phản hồi",
       "Check the device is powered on and its network cable is plugged in.",
       "Kiểm tra thiết bị đã bật nguồn và cáp mạng đã cắm chắc."),
    _f("device.rebooted", "info", "restarted by itself", "vừa tự khởi động lại",
       "If it keeps restarting, check its power supply.",
       "Nếu thiết bị liên tục khởi động lại, kiểm tra nguồn điện."),
    _f("device.interface_down", "warning", "network port {interface} is down",
       "cổng mạng {interface} bị ngắt",
       "Check the cable and the switch port of {interface}.",
       "Kiểm tra cáp và cổng switch của {interface}."),
    _f("device.check_failed", "warning", "check could not run: {reason}",
       "không chạy được kiểm tra: {reason}",
       "Run 'hcc-agent check --device ...' on the box and read the error.",
       "Chạy 'hcc-agent check --device ...' trên máy giám sát và đọc lỗi."),
    _f("device.unsupported_model", "warning",
       "model not supported yet: read only as a network device ({model})",
       "chưa hỗ trợ model này: chỉ theo dõi được kết nối mạng ({model})",
       "Its supplies, clients or outlets are not read. Send `hcc-agent check --device ID --json` "
       "to the hcc-fleet team, or set `profile:` in devices.yaml if a listed one fits.",
       "Chưa đọc được mực, số người dùng hay ổ cắm của thiết bị. Gửi kết quả lệnh "
       "`hcc-agent check --device ID --json` cho nhóm hcc-fleet, hoặc đặt `profile:` trong "
       "devices.yaml nếu có profile phù hợp."),
    _f("device.usb_missing", "critical", "USB device {usb_id} is not connected",
       "thiết bị USB {usb_id} không được kết nối",
       "Re-plug the USB cable into the box; try another port.",
       "Cắm lại cáp USB vào máy giám sát; thử cổng USB khác."),
    # an answering device whose service or certificate is wrong: it is on, so "check the power
    # and the cable" would be wrong advice
    _f("device.refused", "critical", "refuses connections ({target})",
       "từ chối kết nối ({target})",
       "The device is on but its service is not running: restart the application or the device.",
       "Thiết bị vẫn bật nhưng dịch vụ chưa chạy: khởi động lại ứng dụng hoặc thiết bị."),
    _f("device.name_unknown", "critical", "name {host} not found", "không tìm thấy tên {host}",
       "Check the device's name in devices.yaml, or use its IP address.",
       "Kiểm tra tên thiết bị trong devices.yaml, hoặc dùng địa chỉ IP."),
    _f("device.tls_expired", "critical", "security certificate has expired",
       "chứng chỉ bảo mật đã hết hạn",
       "Renew the device's certificate (its admin page, or ask the vendor).",
       "Gia hạn chứng chỉ của thiết bị (trên trang quản trị, hoặc nhờ nhà cung cấp)."),
    _f("device.tls_wrong_name", "critical", "security certificate is for another name than {host}",
       "chứng chỉ bảo mật cấp cho tên khác, không phải {host}",
       "Put the name on the certificate in devices.yaml, or reissue the certificate for this "
       "address.",
       "Dùng đúng tên ghi trên chứng chỉ trong devices.yaml, hoặc cấp lại chứng chỉ cho địa chỉ "
       "này."),
    _f("device.tls_untrusted", "critical",
       "security certificate is not trusted (self-signed or unknown issuer)",
       "chứng chỉ bảo mật không được tin cậy (tự ký hoặc không rõ nơi cấp)",
       "Give the issuing CA in devices.yaml (http: ca_file), or install a trusted certificate.",
       "Khai báo CA cấp chứng chỉ trong devices.yaml (http: ca_file), hoặc cài chứng chỉ tin "
       "cậy."),
    _f("device.not_tls", "critical", "port {port} does not speak HTTPS (plain HTTP there?)",
       "cổng {port} không phải HTTPS (có thể là HTTP thường)",
       "The address in devices.yaml says https:// but the device serves plain HTTP there: "
       "change it to http:// (or to the device's HTTPS port).",
       "Địa chỉ trong devices.yaml ghi https:// nhưng thiết bị chỉ chạy HTTP thường ở cổng "
       "này: sửa địa chỉ thành http:// (hoặc đúng cổng HTTPS của thiết bị)."),
    _f("device.not_http", "critical", "answers on port {port}, but not in HTTP",
       "có trả lời ở cổng {port} nhưng không phải HTTP",
       "If the device serves HTTPS there, change the address in devices.yaml to https://; "
       "otherwise check the port.",
       "Nếu thiết bị chạy HTTPS ở cổng này, sửa địa chỉ trong devices.yaml thành https://; "
       "nếu không, kiểm tra lại cổng."),
    _f("device.tls_failed", "critical", "secure connection (TLS) fails: {reason}",
       "không thiết lập được kết nối bảo mật (TLS): {reason}",
       "The device's TLS is too old or set differently: update its firmware or TLS settings, "
       "or use http:// if it has no HTTPS.",
       "TLS của thiết bị quá cũ hoặc cấu hình khác: cập nhật firmware hay cấu hình TLS của "
       "thiết bị, hoặc dùng http:// nếu thiết bị không có HTTPS."),
    _f("device.tls_timeout", "critical",
       "takes the connection on port {port} but never finishes the secure (TLS) handshake",
       "nhận kết nối ở cổng {port} nhưng không hoàn tất bắt tay bảo mật (TLS)",
       "Check the port is the device's HTTPS port (a plain-HTTP port waits for a request); "
       "then restart the device's application.",
       "Kiểm tra cổng này có đúng là cổng HTTPS của thiết bị không (cổng HTTP thường sẽ đứng "
       "chờ); rồi khởi động lại ứng dụng trên thiết bị."),
    _f("device.http_auth", "critical", "refuses our sign-in (HTTP {status})",
       "từ chối đăng nhập (HTTP {status})",
       "The device is on: check the user name and password (or token) for it in devices.yaml, "
       "and that the account is allowed on the device.",
       "Thiết bị vẫn bật: kiểm tra tên đăng nhập và mật khẩu (hoặc token) của thiết bị trong "
       "devices.yaml, và tài khoản đó có được phép trên thiết bị."),
    _f("device.port_silent", "critical", "answers ping but nothing answers on {target}",
       "trả lời ping nhưng không có gì trả lời ở {target}",
       "The device is on and on the network: a firewall drops the port, or its service hangs. "
       "Check the port in devices.yaml and the device's firewall, then restart its application.",
       "Thiết bị vẫn bật và có mạng: tường lửa đang chặn cổng, hoặc dịch vụ bị treo. Kiểm tra "
       "cổng trong devices.yaml và tường lửa của thiết bị, rồi khởi động lại ứng dụng."),
    _f("device.snmp_silent", "critical", "answers ping but not SNMP",
       "trả lời ping nhưng không trả lời SNMP",
       "The device is on: SNMP is switched off on it, or the community in devices.yaml is not "
       "the device's, or the device only lets listed addresses in. Check its SNMP settings.",
       "Thiết bị vẫn bật: SNMP đang tắt trên thiết bị, hoặc community trong devices.yaml không "
       "khớp với thiết bị, hoặc thiết bị chỉ cho phép một số địa chỉ. Kiểm tra cấu hình SNMP "
       "của thiết bị."),
    _f("device.snmp_auth", "critical", "refuses our SNMPv3 user or keys",
       "từ chối tài khoản hoặc khoá SNMPv3",
       "Check snmp: v3 user, auth, auth_key, priv and priv_key in devices.yaml against the "
       "device's SNMPv3 settings.",
       "Đối chiếu user, auth, auth_key, priv, priv_key (snmp: v3) trong devices.yaml với cấu "
       "hình SNMPv3 trên thiết bị."),
    _f("device.no_route", "critical", "the box has no route to {host}",
       "máy giám sát không có đường mạng tới {host}",
       "Check the device's address in devices.yaml is on the center's network, and the box's "
       "network settings (gateway).",
       "Kiểm tra địa chỉ thiết bị trong devices.yaml có đúng mạng của trung tâm, và cấu hình "
       "mạng (gateway) của máy giám sát."),
    _f("device.http_timeout", "critical", "takes the connection but never answers",
       "nhận kết nối nhưng không trả lời",
       "The device's application hangs: restart it.",
       "Ứng dụng trên thiết bị bị treo: khởi động lại ứng dụng."),
    _f("device.http_error", "critical", "page not found or refused (HTTP {status})",
       "không mở được trang (HTTP {status})",
       "Check the address (path) in devices.yaml and the device's login settings.",
       "Kiểm tra đường dẫn trong devices.yaml và cấu hình đăng nhập của thiết bị."),
    _f("device.http_server_error", "critical", "its software reports an error (HTTP {status})",
       "phần mềm trên thiết bị báo lỗi (HTTP {status})",
       "Restart the application on the device; if it stays, call the vendor.",
       "Khởi động lại ứng dụng trên thiết bị; nếu vẫn lỗi, gọi nhà cung cấp."),
    _f("device.slow", "warning", "answers slowly ({ms} ms)", "phản hồi chậm ({ms} ms)",
       "Check the device's load and the network.",
       "Kiểm tra tải của thiết bị và đường mạng."),
    _f("device.content_mismatch", "critical", "page does not show what it should ({expected})",
       "trang không hiện nội dung mong đợi ({expected})",
       "Look at the device's screen: it may show an error or a login page.",
       "Xem màn hình thiết bị: có thể đang hiện lỗi hoặc trang đăng nhập."),
    _f("device.unhealthy", "critical", "reports itself unhealthy ({field} = {value})",
       "tự báo đang có sự cố ({field} = {value})",
       "Look at the device's own status screen, then restart its application.",
       "Xem màn hình trạng thái của thiết bị, rồi khởi động lại ứng dụng."),
    _f("device.cert_expiring", "warning", "TLS certificate expires in {days} days",
       "chứng chỉ bảo mật hết hạn sau {days} ngày",
       "Ask IT to renew the certificate.",
       "Báo bộ phận CNTT gia hạn chứng chỉ."),
    # a Nagios plugin's own words (English as it wrote them) framed by ours, with a hint that
    # says where they come from and what to do
    _f("device.plugin_warning", "warning", "the check reports a warning: {output}",
       "chương trình kiểm tra báo cảnh báo: {output}",
       "The words after the colon are the check program's own. Run 'hcc-agent check --device ID' "
       "on the box for its full output, and fix what it names.",
       "Phần sau dấu hai chấm là lời của chương trình kiểm tra (plugin Nagios, thường bằng tiếng "
       "Anh). Chạy 'hcc-agent check --device ID' trên máy giám sát để xem đầy đủ, rồi xử lý "
       "điều nó nêu."),
    _f("device.plugin_critical", "critical", "the check reports a failure: {output}",
       "chương trình kiểm tra báo lỗi nghiêm trọng: {output}",
       "The words after the colon are the check program's own. Run 'hcc-agent check --device ID' "
       "on the box for its full output, and fix what it names.",
       "Phần sau dấu hai chấm là lời của chương trình kiểm tra (plugin Nagios, thường bằng tiếng "
       "Anh). Chạy 'hcc-agent check --device ID' trên máy giám sát để xem đầy đủ, rồi xử lý "
       "điều nó nêu."),
    # -- printers ----------------------------------------------------------------------------
    _f("printer.jammed", "critical", "paper jam", "kẹt giấy",
       "Open the covers and remove the jammed paper.",
       "Mở nắp máy và lấy giấy bị kẹt ra."),
    _f("printer.no_paper", "critical", "out of paper", "hết giấy",
       "Load paper into the tray.", "Nạp thêm giấy vào khay."),
    _f("printer.low_paper", "warning", "paper running low", "sắp hết giấy",
       "Load paper soon.", "Nạp thêm giấy sớm."),
    _f("printer.toner_empty", "critical", "{supply} is empty", "{supply} đã hết",
       "Replace the {supply}.", "Thay {supply}."),
    _f("printer.toner_low", "warning", "{supply} low ({level}%)", "{supply} sắp hết ({level}%)",
       "Order a replacement {supply}.", "Chuẩn bị {supply} để thay."),
    _f("printer.waste_full", "critical", "waste toner box full", "hộp mực thải đã đầy",
       "Replace the waste toner box.", "Thay hộp mực thải."),
    _f("printer.waste_near_full", "warning", "waste toner box nearly full ({level}%)",
       "hộp mực thải gần đầy ({level}%)",
       "Order a waste toner box.", "Chuẩn bị hộp mực thải để thay."),
    _f("printer.supply_low", "warning", "{supply} nearly worn out ({level}%)",
       "{supply} sắp hết tuổi thọ ({level}%)",
       "Order a replacement {supply}.", "Chuẩn bị {supply} để thay."),
    _f("printer.supply_empty", "critical", "{supply} worn out", "{supply} đã hết tuổi thọ",
       "Replace the {supply}.", "Thay {supply}."),
    _f("printer.supply_missing", "critical", "supply missing", "thiếu vật tư (hộp mực/trống)",
       "Check that every cartridge and drum is seated.",
       "Kiểm tra hộp mực và trống đã lắp đúng chỗ."),
    _f("printer.door_open", "critical", "cover open", "nắp máy đang mở",
       "Close all covers and doors.", "Đóng tất cả nắp và cửa máy."),
    _f("printer.offline", "critical", "offline", "đang ngoại tuyến",
       "Press the printer's Online/Ready button or restart it.",
       "Nhấn nút Online/Ready trên máy in hoặc khởi động lại."),
    _f("printer.service_requested", "warning", "service requested", "cần bảo trì",
       "Read the message on the printer's panel; call the vendor if needed.",
       "Đọc thông báo trên màn hình máy in; gọi hãng nếu cần."),
    _f("printer.tray_missing", "warning", "paper tray missing", "thiếu khay giấy",
       "Push the paper tray fully in.", "Đẩy khay giấy vào hết cỡ."),
    _f("printer.output_full", "warning", "output tray full", "khay giấy ra đã đầy",
       "Remove printed pages from the output tray.", "Lấy giấy đã in khỏi khay ra."),
    _f("printer.tray_empty", "warning", "{tray} empty", "{tray} hết giấy",
       "Load paper into {tray}.", "Nạp giấy vào {tray}."),
    _f("printer.maintenance_overdue", "info", "preventive maintenance overdue",
       "quá hạn bảo dưỡng định kỳ",
       "Schedule the vendor's maintenance visit.", "Đặt lịch bảo dưỡng với hãng."),
    _f("printer.error", "warning", "printer reports: {detail}", "máy in báo lỗi: {detail}",
       "Read the message on the printer's panel.", "Đọc thông báo trên màn hình máy in."),
    # -- Wi-Fi access points -----------------------------------------------------------------
    _f("ap.radio_down", "critical", "Wi-Fi radio {interface} is down", "sóng Wi-Fi {interface} bị tắt",
       "Restart the access point; check it in the controller.",
       "Khởi động lại điểm phát Wi-Fi; kiểm tra trên bộ điều khiển."),
    _f("ap.uplink_down", "critical", "uplink {interface} is down", "mất kết nối mạng {interface}",
       "Check the access point's network cable and PoE switch.",
       "Kiểm tra cáp mạng và switch PoE của điểm phát Wi-Fi."),
    _f("ap.no_clients", "warning", "no Wi-Fi users during opening hours",
       "không có người dùng Wi-Fi trong giờ làm việc",
       "Check with a phone that the Wi-Fi network is visible and connects.",
       "Dùng điện thoại kiểm tra mạng Wi-Fi có hiện và kết nối được không."),
    _f("ap.rebooted", "warning", "access point restarted", "điểm phát Wi-Fi vừa khởi động lại",
       "If it keeps restarting, check its PoE power.",
       "Nếu khởi động lại liên tục, kiểm tra nguồn PoE."),
    # -- charging stations -------------------------------------------------------------------
    _f("charger.outlet_off", "critical", "outlet {outlet} switched off", "ổ cắm {outlet} đang tắt",
       "Switch the outlet back on in the PDU or plug.",
       "Bật lại ổ cắm trên thanh nguồn hoặc ổ cắm thông minh."),
    _f("charger.no_power_draw", "warning", "outlet {outlet} on but drawing no power",
       "ổ cắm {outlet} đang bật nhưng không tiêu thụ điện",
       "Check that the charging station is plugged in and switched on.",
       "Kiểm tra trạm sạc đã cắm điện và bật công tắc."),
    _f("charger.overload", "critical", "outlet {outlet} overloaded ({power} W)",
       "ổ cắm {outlet} quá tải ({power} W)",
       "Unplug some devices from the charging station.",
       "Rút bớt thiết bị khỏi trạm sạc."),
    _f("charger.overtemp", "critical", "outlet {outlet} overheating ({temperature} °C)",
       "ổ cắm {outlet} quá nóng ({temperature} °C)",
       "Unplug the charger and let it cool; check ventilation.",
       "Rút điện trạm sạc, để nguội; kiểm tra thông gió."),
    # -- UPS (network cabinet, kiosks) ---------------------------------------------------------
    _f("ups.on_battery", "warning", "running on battery ({charge}% left, about {minutes} min)",
       "đang chạy bằng pin ({charge}%, còn khoảng {minutes} phút)",
       "Mains power is out at the UPS: check the power supply and the breaker.",
       "Mất điện lưới vào UPS: kiểm tra nguồn điện và cầu dao."),
    _f("ups.battery_low", "critical", "battery low ({charge}%, about {minutes} min)",
       "pin yếu ({charge}%, còn khoảng {minutes} phút)",
       "Save work and shut down what the UPS feeds, or restore mains power now.",
       "Lưu công việc và tắt thiết bị dùng UPS, hoặc khôi phục điện lưới ngay."),
    _f("ups.replace_battery", "warning", "battery needs replacing", "cần thay pin UPS",
       "Order a replacement battery for this UPS model.",
       "Đặt mua pin thay thế đúng loại cho UPS này."),
    _f("ups.overload", "critical", "overloaded ({load}% load)", "quá tải ({load}% công suất)",
       "Unplug what does not need backup power from the UPS.",
       "Rút bớt các thiết bị không cần dự phòng điện khỏi UPS."),
    _f("ups.output_off", "critical", "output switched off: what it feeds has no power",
       "đầu ra UPS đang tắt: thiết bị phía sau bị mất điện",
       "Switch the UPS output back on (front panel or web page).",
       "Bật lại đầu ra UPS (trên mặt máy hoặc trang quản trị)."),
    _f("ups.on_bypass", "warning", "on bypass: what it feeds has no battery backup",
       "UPS đang chạy bypass: thiết bị phía sau không được pin dự phòng",
       "Check the UPS's display for the cause (overload, fault) and return it to normal mode.",
       "Xem màn hình UPS để biết nguyên nhân (quá tải, lỗi) và đưa về chế độ bình thường."),
    _f("ups.overtemp", "warning", "UPS too hot", "UPS quá nóng",
       "Check the UPS's ventilation and the room temperature.",
       "Kiểm tra thông gió quanh UPS và nhiệt độ phòng."),
    _f("ups.input_bad", "warning", "mains input out of range", "điện lưới vào UPS không ổn định",
       "Have the mains supply to the UPS checked (voltage, frequency, breaker).",
       "Kiểm tra nguồn điện lưới cấp cho UPS (điện áp, tần số, cầu dao)."),
    _f("ups.charger_failed", "warning", "battery charger failed", "bộ sạc pin của UPS bị hỏng",
       "Call the UPS's service: the battery will not recharge.",
       "Gọi bảo hành UPS: pin sẽ không được sạc lại."),
    _f("ups.fan_failed", "warning", "fan failed", "quạt UPS bị hỏng",
       "Call the UPS's service before it overheats.", "Gọi bảo hành UPS trước khi máy quá nóng."),
    _f("ups.selftest_failed", "warning", "self-test failed", "UPS tự kiểm tra bị lỗi",
       "Check the battery and run the self-test again; replace the battery if it fails again.",
       "Kiểm tra pin và chạy lại tự kiểm tra; thay pin nếu vẫn lỗi."),
    _f("ups.shutdown_pending", "critical", "UPS about to shut down",
       "UPS sắp tắt: thiết bị phía sau sắp mất điện",
       "Save work and shut down what the UPS feeds now.",
       "Lưu công việc và tắt ngay các thiết bị dùng UPS."),
    _f("ups.general_fault", "warning", "UPS reports a fault ({alarm})", "UPS báo lỗi ({alarm})",
       "Read the UPS's display or web page and call its service.",
       "Xem màn hình hoặc trang quản trị của UPS và gọi bảo hành."),
    # -- transfer switches (ATS) ----------------------------------------------------------------
    _f("ats.source_failed", "warning", "power source {source} failed: no redundancy",
       "nguồn điện {source} của bộ chuyển nguồn bị mất: không còn dự phòng",
       "Check the supply and breaker of that source.",
       "Kiểm tra nguồn cấp và cầu dao của nguồn đó."),
    _f("ats.fault", "critical", "transfer switch reports a fault",
       "bộ chuyển nguồn tự động báo lỗi",
       "Call the transfer switch's service: what it feeds may lose power.",
       "Gọi bảo hành bộ chuyển nguồn: thiết bị phía sau có thể mất điện."),
    # -- Wi-Fi as a citizen sees it (the box's own radio joins the public SSID) ---------------
    _f("wifi.ssid_missing", "critical", "Wi-Fi network {ssid} not on the air",
       "không thấy mạng Wi-Fi {ssid}",
       "Check that the access points are powered and broadcast this SSID.",
       "Kiểm tra điểm phát Wi-Fi có điện và đang phát tên mạng này."),
    _f("wifi.assoc_failed", "critical", "cannot join Wi-Fi {ssid} ({reason})",
       "không kết nối được Wi-Fi {ssid} ({reason})",
       "Check the SSID's password or security settings on the access point.",
       "Kiểm tra mật khẩu và cấu hình bảo mật của mạng trên điểm phát."),
    _f("wifi.dhcp_failed", "critical", "no IP address for Wi-Fi users",
       "hết địa chỉ IP cấp cho khách",
       "Check the DHCP pool on the router: exhausted or the DHCP server is down.",
       "Kiểm tra dải DHCP trên router: đã cấp hết địa chỉ hoặc máy chủ DHCP bị tắt."),
    _f("wifi.dhcp_slow", "warning", "Wi-Fi users wait {seconds} s for an IP address",
       "khách chờ {seconds} giây mới nhận được địa chỉ IP",
       "Check the router's load and the DHCP server.",
       "Kiểm tra tải của router và máy chủ DHCP."),
    _f("wifi.dns_failed", "critical", "Wi-Fi users cannot resolve names ({name})",
       "khách dùng Wi-Fi không phân giải được tên miền ({name})",
       "Check the DNS server the router hands out.",
       "Kiểm tra máy chủ DNS mà router cấp cho khách."),
    _f("wifi.no_internet", "critical", "Wi-Fi users have no internet",
       "khách dùng Wi-Fi không vào được Internet",
       "Check the router's internet uplink and firewall.",
       "Kiểm tra đường Internet của router và tường lửa."),
    _f("wifi.portal_broken", "critical", "the Wi-Fi login page does not open",
       "trang đăng nhập Wi-Fi không mở được",
       "Check the captive portal server (its address and certificate).",
       "Kiểm tra máy chủ trang đăng nhập Wi-Fi (địa chỉ và chứng chỉ)."),
    _f("wifi.slow", "warning", "Wi-Fi is slow for users ({value} Mbit/s)",
       "Wi-Fi chậm ({value} Mbit/s)",
       "Check the internet line's load and the access points' channels.",
       "Kiểm tra tải đường truyền Internet và kênh sóng của các điểm phát."),
    # -- the center's own internet line, from the box's wired port ----------------------------
    _f("wan.gateway_down", "critical", "the center's router does not answer",
       "router của trung tâm không phản hồi",
       "Check the router's power and the box's network cable.",
       "Kiểm tra nguồn router và dây mạng của máy giám sát."),
    _f("wan.dns_failed", "critical", "the center's DNS does not answer ({name})",
       "DNS của trung tâm không phản hồi ({name})",
       "Check the router's DNS settings or the provider's DNS.",
       "Kiểm tra cấu hình DNS của router hoặc nhà mạng."),
    _f("wan.no_internet", "critical", "the center's internet is down",
       "trung tâm mất Internet",
       "Call the internet provider; check the modem's lights.",
       "Gọi nhà mạng; kiểm tra đèn tín hiệu của modem."),
    _f("wan.slow", "warning", "the center's internet is slow ({value} Mbit/s)",
       "Internet của trung tâm chậm ({value} Mbit/s)",
       "Check what uses the line; call the provider if it stays slow.",
       "Kiểm tra thiết bị đang dùng nhiều băng thông; gọi nhà mạng nếu vẫn chậm."),
    # -- the agent's own box -----------------------------------------------------------------
    _f("host.undervoltage", "critical", "power supply too weak (under-voltage)",
       "nguồn điện yếu (thiếu điện áp)",
       "Replace the box's power adapter with the official one.",
       "Thay bộ nguồn của máy giám sát bằng bộ nguồn chính hãng."),
    _f("host.throttled", "warning", "CPU throttled", "CPU bị giảm tốc",
       "Check cooling and power supply of the box.", "Kiểm tra tản nhiệt và nguồn của máy giám sát."),
    _f("host.overtemp", "warning", "CPU hot ({temperature} °C)", "CPU quá nóng ({temperature} °C)",
       "Make sure the box is ventilated.", "Đảm bảo máy giám sát được thông gió."),
    _f("host.disk_full", "warning", "disk {percent}% full", "ổ đĩa đầy {percent}%",
       "Free space on the box or replace the SD card.", "Giải phóng dung lượng hoặc thay thẻ nhớ."),
    _f("host.memory_low", "warning", "memory {percent}% used", "bộ nhớ đã dùng {percent}%",
       "Restart the agent service.", "Khởi động lại dịch vụ hcc-agent."),
    _f("host.clock_unsynced", "warning", "clock not synchronised", "đồng hồ chưa được đồng bộ",
       "Check NTP access (timedatectl status).", "Kiểm tra kết nối NTP (timedatectl status)."),
    _f("host.outbox_damaged", "warning",
       "report buffer (outbox) was damaged and set aside ({file}); the box goes on with a new one",
       "bộ đệm dữ liệu (outbox) bị hỏng, đã được để riêng ({file}); máy giám sát vẫn chạy với "
       "bộ đệm mới",
       "The SD card may be failing: run `hcc-agent status`, plan to replace the card, then "
       "delete /var/lib/hcc-agent/outbox.damaged-* to clear this warning.",
       "Thẻ nhớ có thể sắp hỏng: chạy `hcc-agent status`, lên kế hoạch thay thẻ nhớ, sau đó "
       "xoá /var/lib/hcc-agent/outbox.damaged-* để tắt cảnh báo này."),
    # -- agents and centers (raised by the controller) ---------------------------------------
    _f("agent.offline", "critical", "center offline (monitoring box unreachable)",
       "trung tâm mất kết nối (không liên lạc được máy giám sát)",
       "Call the center; check its Internet link and the box's power.",
       "Gọi điện cho trung tâm; kiểm tra đường truyền Internet và nguồn của máy giám sát."),
    _f("center.lan_down", "critical", "local network down: {down} of {total} devices unreachable",
       "mạng nội bộ trung tâm bị mất: {down}/{total} thiết bị không phản hồi",
       "Check the center's switch and its power.",
       "Kiểm tra switch mạng của trung tâm và nguồn điện của switch."),
    _f("center.unknown_agent", "warning",
       "unknown monitoring box {agent} is reporting ({count} messages ignored)",
       "máy giám sát lạ {agent} đang gửi dữ liệu (đã bỏ qua {count} tin)",
       "If this box is new, enroll it or add it to the center's agents in controller.yaml; "
       "otherwise its credentials may be misused.",
       "Nếu đây là máy mới, hãy đăng ký nó hoặc thêm vào danh sách agents của trung tâm trong "
       "controller.yaml; nếu không, thông tin đăng nhập có thể đang bị dùng trái phép."),
    _f("center.too_many_devices", "warning",
       "more than {limit} devices reported: device {device} ignored",
       "vượt quá {limit} thiết bị: bỏ qua thiết bị {device}",
       "Check the box's devices.yaml, or raise rules.max_devices_per_center on the controller.",
       "Kiểm tra devices.yaml trên máy giám sát, hoặc tăng rules.max_devices_per_center "
       "trên máy chủ điều khiển."),
    _f("agent.too_many_alerts", "warning",
       "device {device} reports more than {limit} faults at once: the rest are not alerted",
       "thiết bị {device} báo hơn {limit} lỗi cùng lúc: các lỗi còn lại không được cảnh báo",
       "No real device has that many faults: check the box (its credentials may be misused), "
       "then resolve this alert.",
       "Không thiết bị thật nào có nhiều lỗi như vậy: kiểm tra máy giám sát (thông tin đăng "
       "nhập có thể đang bị dùng trái phép), rồi đóng cảnh báo này."),
    _f("agent.clock_skew", "warning", "box clock off by {skew} s", "đồng hồ máy giám sát lệch {skew} giây",
       "Check NTP on the box.", "Kiểm tra NTP trên máy giám sát."),
    _f("agent.update_failed", "warning",
       "software update to {version} failed, box back on its previous version: {reason}",
       "cập nhật phần mềm lên {version} thất bại, máy giám sát đã quay về phiên bản cũ: {reason}",
       "The rollout is halted. Read `hcc-controller rollout status`; fix the release, then "
       "`rollout resume` or `rollout abort`. Nobody needs to go to the center.",
       "Đợt cập nhật đã dừng. Xem `hcc-controller rollout status`; sửa bản phát hành rồi chạy "
       "`rollout resume` hoặc `rollout abort`. Không cần đến trung tâm."),
    # -- reported by citizens (QR code) or the staff: one code per problem choice ------------
    _f("citizen.out_of_water", "warning", "citizens report: out of water ({reports} reports)",
       "người dân báo: hết nước ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.out_of_stock", "warning", "citizens report: nothing left ({reports} reports)",
       "người dân báo: hết đồ ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.out_of_paper", "warning", "citizens report: out of paper ({reports} reports)",
       "người dân báo: hết giấy ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.tray_full", "warning", "citizens report: output tray full ({reports} reports)",
       "người dân báo: khay giấy bị đầy ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.paper_jam", "warning", "citizens report: paper jam ({reports} reports)",
       "người dân báo: kẹt giấy ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.no_charge", "warning", "citizens report: does not charge ({reports} reports)",
       "người dân báo: không sạc được ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.wifi_no_connect", "warning", "citizens report: cannot join the Wi-Fi ({reports} reports)",
       "người dân báo: Wi-Fi không vào được ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.screen_broken", "warning", "citizens report: screen broken ({reports} reports)",
       "người dân báo: màn hình hỏng ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.not_working", "warning", "citizens report: not working ({reports} reports)",
       "người dân báo: không hoạt động ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.stuck", "warning", "citizens report: stuck, not moving ({reports} reports)",
       "người dân báo: bị kẹt, đứng yên ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.broken", "warning", "citizens report: broken ({reports} reports)",
       "người dân báo: bị hỏng, gãy ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.dirty", "warning", "citizens report: dirty, needs cleaning ({reports} reports)",
       "người dân báo: bẩn, cần dọn ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.missing", "warning", "citizens report: missing ({reports} reports)",
       "người dân báo: bị mất, không thấy ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
    _f("citizen.checklist_not_done", "info",
       "the opening checklist is not done: {missing} items not checked ({items})",
       "chưa kiểm tra đầu ngày: còn {missing} mục chưa đánh dấu ({items})",
       "Remind the center's staff to tick the checklist from their staff link; the warning "
       "closes by itself once every item is ticked.",
       "Nhắc nhân viên trung tâm đánh dấu danh sách kiểm tra bằng đường dẫn dành cho nhân viên; "
       "cảnh báo tự đóng khi mọi mục đã được đánh dấu."),
    _f("citizen.other", "warning", "citizens report: something else is wrong ({reports} reports)",
       "người dân báo: có vấn đề khác ({reports} lượt báo)",
       "Go and look; resolve the alert when it is fixed (reporters who left a number get a message).",
       "Đến kiểm tra; xử lý xong thì đóng cảnh báo (người báo có để lại số sẽ nhận tin nhắn)."),
)

VOCABULARY: Mapping[str, FaultDef] = {f.code: f for f in _VOCABULARY}

LANGS = texts.LANGS


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


# Device types as people call them (devices.yaml's `type`), for pages and reports.
TYPE_NAMES: Mapping[str, tuple[str, str]] = {
    "printer": ("Máy in", "Printer"), "wifi_ap": ("Điểm phát Wi-Fi", "Wi-Fi access point"),
    "charger": ("Trạm sạc điện thoại", "Phone charger"), "ups": ("Bộ lưu điện (UPS)", "UPS"),
    "reading_device": ("Máy đọc cho người cao tuổi", "Reading aid"),
    "kiosk": ("Ki-ốt tra cứu", "Kiosk"), "robot": ("Robot lễ tân", "Reception robot"),
    "pdu": ("Ổ cắm điện thông minh (PDU)", "PDU"), "other": ("Thiết bị khác", "Other device"),
    "network": ("Mạng của trung tâm (Wi-Fi, Internet)", "Center network (Wi-Fi, internet)"),
    "box": ("Máy giám sát", "The box (hcc-agent)"),
}


def type_name(device_type: str, lang: str | None = None) -> str:
    names = TYPE_NAMES.get(device_type)
    if names is None:
        return device_type
    return names[0] if (lang or texts.current()) == "vi" else names[1]


def lookup(code: str) -> FaultDef:
    """The definition of a code; unknown codes (from a newer agent) render generically."""
    found = VOCABULARY.get(code)
    if found is not None:
        return found
    return FaultDef(code=code, severity=Severity.WARNING, en=code, vi=code, hint_en="", hint_vi="")


_OPTIONAL_GROUP = re.compile(r"\s*\([^()]*\{(\w+)\}[^()]*\)")


def _render(template: str, params: Mapping[str, object]) -> str:
    # "(…{level}%…)" is optional: dropped when the param is missing, not shown as "(?%)".
    trimmed = _OPTIONAL_GROUP.sub(lambda m: m.group(0) if m.group(1) in params else "", template)
    shown = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in params.items()}
    return trimmed.format_map(_Params(shown))


def message(code: str, params: Mapping[str, object] | None = None,
            lang: str | None = None) -> str:
    """The fault's words in `lang` (default: the process's language, texts.current())."""
    d = lookup(code)
    return _render(d.vi if (lang or texts.current()) == "vi" else d.en, params or {})


def hint(code: str, params: Mapping[str, object] | None = None, lang: str | None = None) -> str:
    d = lookup(code)
    return _render(d.hint_vi if (lang or texts.current()) == "vi" else d.hint_en, params or {})


def full_message(device_name: str, code: str, params: Mapping[str, object] | None = None,
                 lang: str | None = None) -> str:
    """'Máy in quầy 2: kẹt giấy' — what a technician reads."""
    return f"{device_name}: {message(code, params, lang)}"


def choose_lang(lang: str | None, environ: Mapping[str, str] | None = None) -> str:
    """A --lang option's value, or the environment's (texts.default_lang); ValueError names
    the choices."""
    if lang is None:
        return texts.default_lang(environ)
    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {', '.join(LANGS)}")
    return lang


default_lang = texts.default_lang


# Params that tell two faults of one code apart on one device (two toners, two radios).
IDENTITY_PARAMS = ("supply", "interface", "outlet", "tray", "usb_id")


def report(code: str, severity: str | None = None, **params: float | int | str | None
           ) -> FaultReport:
    """A fault as sent on the wire; severity defaults to the vocabulary's, None params dropped."""
    return FaultReport(code, severity or lookup(code).severity.value,
                       {k: v for k, v in params.items() if v is not None})


def fault_subject(params: Mapping[str, object]) -> str:
    return "|".join(str(params[k]) for k in IDENTITY_PARAMS if k in params)
