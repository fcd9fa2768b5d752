// hcc-fleet report page: the PDF link fetches the PDF with the session cookie (a PDF needs someone
// signed in, reads open or not: each is a Chromium run) and saves it; says why when it cannot.
"use strict";

(() => {
  const TEXT = {
    en: { need_token: "A PDF needs signing in: sign in, then open this page again.",
          busy: "Many PDF reports are being made: try again in {s} s.", making: "Making the PDF…" },
  };
  TEXT.vi = inVietnamese(TEXT.en);  // the one catalog's words (texts.js)
  const link = document.getElementById("pdf");
  const message = document.getElementById("report-message");
  if (!link || !message) return;
  const text = TEXT[document.documentElement.lang === "en" ? "en" : "vi"];
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    message.textContent = text.making;
    const r = await fetch(link.href);
    if (!r.ok) {
      message.textContent = r.status === 401 ? text.need_token
        : r.status === 429 ? text.busy.replace("{s}", r.headers.get("Retry-After") || "30")
        : `HTTP ${r.status}`;
      return;
    }
    const disposition = r.headers.get("Content-Disposition") || "";
    const name = (/filename="([^"]+)"/.exec(disposition) || [null, "hcc-report.pdf"])[1];
    const url = URL.createObjectURL(await r.blob());
    const save = document.createElement("a");
    save.href = url;
    save.download = name;
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    message.textContent = "";
  });
})();
