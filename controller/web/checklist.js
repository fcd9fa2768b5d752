// The opening checklist for a signed-in technician: the form's answers posted with the
// session's CSRF token (a header, as every write of a session must carry), the server's
// bilingual "saved" line shown in place (as text).
"use strict";

const form = document.getElementById("checklist");
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const answers = {};
  form.querySelectorAll("input[type=radio]:checked").forEach((r) => { answers[r.name] = r.value; });
  const r = await fetch(`/api/v1/centers/${encodeURIComponent(form.dataset.center)}/checklist`, {
    method: "POST", body: JSON.stringify(answers),
    headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf } });
  const saved = document.getElementById("saved");
  saved.textContent = r.ok ? (await r.json()).text : `HTTP ${r.status}`;
});
