"""The controller's persistence, one module per aggregate over one Db (controller/db.py):
alerts, devices and boxes, silences, notifications, dead letters, config pushes, enrollment,
channel state and the monthly report's runs. controller/store.py composes them."""
