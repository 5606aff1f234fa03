// The cabinet's page: reads Telegram's launch data, asks the server for the shopper's
// cabinet (texts already in their language) and lays it out. No framework: a page this
// small reads better without one, and nothing has to be built.
"use strict";

const fragment = new URLSearchParams(location.hash.slice(1));
const telegram = () => (window.Telegram && window.Telegram.WebApp) || null;

function launchData() {
  const app = telegram();
  return (app && app.initData) || fragment.get("tgWebAppData") || "";
}

// Telegram's script sets these itself; without it the fragment carries the theme.
function applyTheme() {
  let theme = {};
  try { theme = JSON.parse(fragment.get("tgWebAppThemeParams") || "{}"); } catch (e) { }
  for (const [name, value] of Object.entries(theme)) {
    document.documentElement.style.setProperty("--tg-theme-" + name.replace(/_/g, "-"), value);
  }
}

const $ = (id) => document.getElementById(id);

function show(id, text) {
  const element = $(id);
  element.textContent = text;
  element.hidden = false;
}

function codeItem(code, labels) {
  const item = $("code-item").content.firstElementChild.cloneNode(true);
  const qr = item.querySelector(".qr");
  qr.src = code.qr;
  qr.alt = code.code;
  item.querySelector(".value").textContent = code.code;
  item.querySelector(".hint").textContent = labels.show_at_till;
  const copy = item.querySelector(".copy");
  copy.textContent = labels.copy;
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code.code);
      copy.textContent = labels.copied;
    } catch (e) {
      // No clipboard (an old client): select the code so the shopper can copy it.
      getSelection().selectAllChildren(item.querySelector(".value"));
    }
  });
  const lines = item.querySelector(".lines");
  for (const line of code.lines) {
    const li = document.createElement("li");
    li.textContent = line;
    lines.append(li);
  }
  return item;
}

// The till (staff): scan or type a code, type the order's amount, check, then redeem. One
// order id per check, so that a second tap on "Redeem" answers the first redemption.
function till(setup) {
  const labels = setup.labels;
  const result = $("till-result");
  const redeemButton = $("till-redeem");
  let checked = null;
  $("till-title").textContent = labels.till;
  $("till-code-label").textContent = labels.code;
  $("till-amount-label").textContent = labels.amount;
  $("till-check").textContent = labels.check;
  redeemButton.textContent = labels.redeem;
  const app = telegram();
  if (app && app.showScanQrPopup) {
    const scan = $("till-scan");
    scan.textContent = labels.scan;
    scan.hidden = false;
    scan.addEventListener("click", () => app.showScanQrPopup({ text: labels.scan_hint }, (text) => {
      $("till-code").value = text;
      $("till-amount").focus();
      return true;  // closes the scanner
    }));
  }
  const say = (text, refused) => {
    result.textContent = text;
    result.classList.toggle("refused", refused);
  };
  // "2 500", "2500,50", "2500.5": spaces (also no-break ones) are thousands separators.
  const amount = () => {
    const typed = $("till-amount").value.replace(/[\s\u00a0\u202f]/g, "");
    if (!/^\d{1,12}([.,]\d{1,2})?$/.test(typed)) return null;
    return Math.round(parseFloat(typed.replace(",", ".")) * setup.minor_units);
  };
  const order = () => ({ code: $("till-code").value.trim(), total: amount() });
  const call = async (path, body) => {
    const response = await fetch("api/till/" + path, {
      method: "POST",
      headers: { Authorization: "tma " + launchData(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    return response.ok ? answer : { refused: true, message: answer.error.message };
  };
  const reset = () => { checked = null; redeemButton.disabled = true; };
  $("till-code").addEventListener("input", reset);
  $("till-amount").addEventListener("input", reset);
  $("till-check").addEventListener("click", async () => {
    reset();
    const body = order();
    if (!body.code) return;
    if (!(body.total > 0)) {
      say(labels.bad_amount, true);
      return;
    }
    body.order_id = "till-" + (crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random());
    const answer = await call("check", body);
    if (answer.refused || !answer.valid) {
      say(answer.message, true);
      return;
    }
    say(answer.message + " " + answer.to_pay_text, false);
    checked = body;
    redeemButton.disabled = false;
  });
  redeemButton.addEventListener("click", async () => {
    if (!checked) return;
    const answer = await call("redeem", checked);
    say(answer.refused ? answer.message : answer.message + " " + answer.to_pay_text,
        !!answer.refused);
    redeemButton.disabled = true;
  });
  $("till").hidden = false;
}

function render(me) {
  document.documentElement.lang = me.locale;
  document.title = me.labels.title;
  $("title").textContent = me.labels.title;
  if (me.till) till(me.till);
  preferences(me.settings, me.labels);
  terms(me.terms, me.labels);
  if (!me.linked) {
    // Staff at the till need no shopper's account.
    if (!me.till) show("message", me.how_to_link);
    return;
  }
  $("codes-title").textContent = me.labels.codes;
  $("codes").hidden = false;
  if (me.codes.length === 0) show("no-codes", me.labels.no_codes);
  for (const code of me.codes) $("code-list").append(codeItem(code, me.labels));
  if (me.more_codes) show("more-codes", me.more_codes);
  $("tier-title").textContent = me.labels.tier;
  $("tier-level").textContent = me.tier.level;
  $("tier-so-far").textContent = me.tier.so_far;
  const bar = $("tier-bar");
  if (me.tier.progress === null) {
    bar.hidden = true;
  } else {
    bar.firstElementChild.style.width = Math.round(me.tier.progress * 100) + "%";
    bar.setAttribute("aria-valuenow", Math.round(me.tier.progress * 100));
    bar.setAttribute("aria-valuetext", me.tier.progress_text);
  }
  $("tier-next").textContent = me.tier.next;
  $("tier").hidden = false;
  invite(me.invite, me.labels);
  history(me.history, me.labels);
}

function options(select, choices, chosen) {
  for (const choice of choices) {
    const option = new Option(choice.label, choice.value, false, choice.value === chosen);
    select.append(option);
  }
}

// A change is saved at once; the page is then read again, in the language chosen.
function preferences(chosen, labels) {
  $("settings-title").textContent = labels.settings;
  $("language-label").textContent = labels.language;
  options($("language"), chosen.languages, chosen.locale);
  const save = async (change) => {
    const response = await fetch("api/settings", {
      method: "POST",
      headers: { Authorization: "tma " + launchData(), "Content-Type": "application/json" },
      body: JSON.stringify(change),
    });
    if (response.ok) {
      location.reload();
      return;
    }
    const answer = await response.json();
    $("settings-result").textContent = answer.error.message;
  };
  $("language").addEventListener("change", (e) => save({ locale: e.target.value }));
  if ("promotions" in chosen) {
    $("promotions-label").textContent = labels.promotions;
    $("promotions").checked = chosen.promotions;
    $("promotions").addEventListener("change", (e) => save({ promotions: e.target.checked }));
    $("timezone-label").textContent = labels.timezone;
    options($("timezone"), chosen.zones, chosen.timezone);
    $("timezone").addEventListener("change", (e) => save({ timezone: e.target.value }));
    $("promotions-row").hidden = false;
    $("timezone-row").hidden = false;
  }
  $("settings").hidden = false;
}

function terms(sections, labels) {
  $("terms-title").textContent = labels.terms;
  for (const section of sections) {
    const title = document.createElement("h3");
    title.textContent = section.title;
    const list = document.createElement("ul");
    for (const line of section.lines) {
      const item = document.createElement("li");
      item.textContent = line;
      list.append(item);
    }
    $("terms-body").append(title, list);
  }
  $("terms").hidden = false;
}

function invite(invitation, labels) {
  $("invite-title").textContent = labels.invite;
  $("invite-about").textContent = invitation.about;
  $("invite-link").textContent = invitation.link;
  $("invite-counts").textContent = invitation.counts;
  const share = $("invite-share");
  share.textContent = labels.share;
  share.href = invitation.share_url;
  share.addEventListener("click", (event) => {
    // Inside Telegram its own share sheet opens; in a browser the link does.
    const app = telegram();
    if (app && app.openTelegramLink) {
      event.preventDefault();
      app.openTelegramLink(invitation.share_url);
    }
  });
  $("invite").hidden = false;
}

function history(entries, labels) {
  if (entries.length === 0) return;
  $("history-title").textContent = labels.history;
  for (const entry of entries) {
    const item = $("history-item").content.firstElementChild.cloneNode(true);
    item.classList.add(entry.fate);
    item.querySelector(".what").textContent = entry.reward + " — " + entry.given_for;
    item.querySelector(".when").textContent = entry.given_on;
    item.querySelector(".fate").textContent = entry.what_became;
    $("history-list").append(item);
  }
  $("history").hidden = false;
}

async function main() {
  applyTheme();
  const app = telegram();
  if (app) { app.ready(); app.expand(); }
  const response = await fetch("api/me", { headers: { Authorization: "tma " + launchData() } });
  $("app").setAttribute("aria-busy", "false");
  if (!response.ok) {
    // Opened outside Telegram, or with launch data that does not check out: no data.
    let refusal = {};
    try { refusal = await response.json(); } catch (e) { }
    show("message", (refusal.error && refusal.error.message) || response.statusText);
    return;
  }
  render(await response.json());
}

main();
