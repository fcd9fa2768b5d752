"""The Vietnamese help texts of hcc-controller release … and rollout … (merged into cli_text.VI)."""

from __future__ import annotations

from collections.abc import Mapping

VI: Mapping[str, str] = {
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
}
