"""The tables of citizens' reports (controller/citizen.py), created with the store's."""

SCHEMA = """
-- Each amenity's QR token (random, rotatable): the only way in for an anonymous reporter.
CREATE TABLE IF NOT EXISTS amenity_tokens (
  center TEXT NOT NULL, amenity TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL,
  PRIMARY KEY (center, amenity)
);
-- Reports from citizens (the QR page) and from other systems (Open311): kept apart from the
-- alert's text, and the phone number is shown only to the desk.
CREATE TABLE IF NOT EXISTS citizen_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER NOT NULL, center TEXT NOT NULL, amenity TEXT NOT NULL, problem TEXT NOT NULL,
  note TEXT NOT NULL, phone TEXT, has_photo INTEGER NOT NULL, address_hash TEXT NOT NULL,
  at REAL NOT NULL, off_hours INTEGER NOT NULL, via TEXT NOT NULL,
  reply_state TEXT NOT NULL, reply_at REAL, reply_error TEXT
);
CREATE INDEX IF NOT EXISTS citizen_reports_alert ON citizen_reports(alert_id);
CREATE INDEX IF NOT EXISTS citizen_reports_amenity ON citizen_reports(center, amenity, at);
CREATE INDEX IF NOT EXISTS citizen_reports_address ON citizen_reports(address_hash, at);
CREATE TABLE IF NOT EXISTS citizen_photos (
  report_id INTEGER PRIMARY KEY, jpeg_b64 TEXT NOT NULL
);
-- Form nonces already used (each page's form posts once).
CREATE TABLE IF NOT EXISTS citizen_nonces (nonce TEXT PRIMARY KEY, used_at REAL NOT NULL);
-- The staff's opening checklist: one row per center, day and amenity (the last answer counts).
CREATE TABLE IF NOT EXISTS staff_checks (
  center TEXT NOT NULL, day TEXT NOT NULL, amenity TEXT NOT NULL, result TEXT NOT NULL,
  at REAL NOT NULL,
  PRIMARY KEY (center, day, amenity)
);
"""
