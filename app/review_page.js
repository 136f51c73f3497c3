// The reviewer's page in the browser: keys, zoom and pan, the next image fetched ahead, one-screen sizing.
// Everything here is display: what is saved, and where the reviewer is, is decided on the server.
(() => {
  const $ = (selector) => document.querySelector(selector);
  // (not offsetParent: it is null for the full-screen element itself)
  const shown = (element) => element !== null && element !== undefined && element.getClientRects().length > 0;
  const QUESTIONS = ["asymmetry", "border", "colour", "diameter"];
  const SETTINGS = "fairskin-review-view";  // zoom kept across images, pixel-exact display: this browser's choices

  const review = {
    latencies: [],  // {ms, optimistic}: "Save & next" pressed → the next image drawn (read by benchmarks/)
    saves: [],  // ms from "Save & next" pressed → the server's answer
    pressedAt: null,
    enterAt: null,
    typedAhead: [],  // keys pressed while an answer was being saved
    pending: false,
    settings: Object.assign({keepZoom: false, pixelated: false}, JSON.parse(localStorage.getItem(SETTINGS) || "{}")),
    view: {zoom: 1, x: 0.5, y: 0.5},  // zoom relative to "fit"; the image point shown at the centre (fractions)
    prefetched: new Map(),  // url → decoded Image, kept so the browser keeps it in memory
    explicitQuestion: null,
  };
  window.fairskinReview = review;

  const viewer = () => $("#review-viewer");
  const saveSettings = () => localStorage.setItem(SETTINGS, JSON.stringify(review.settings));

  // ---- one screen: the image takes the height left below its top, the controls scroll only if they must
  function sizeViewer() {
    const box = viewer();
    if (!box) return;
    const stacked = window.matchMedia("(max-aspect-ratio: 1/1)").matches;
    const rect = box.getBoundingClientRect();
    const top = rect.top + window.scrollY;
    // what lies under the frame whatever its height: the bottom paddings, borders and margins of it and its wrappers
    let below = 0;
    for (let element = box; element && element !== document.documentElement; element = element.parentElement) {
      const style = getComputedStyle(element);
      below += parseFloat(style.marginBottom) + (element === box ? 0 : parseFloat(style.paddingBottom) + parseFloat(style.borderBottomWidth));
    }
    // stacked (portrait): the controls lie under the frame too, and the frame is never taller than wide
    const under = stacked ? $("#review-form").getBoundingClientRect().bottom - rect.bottom : 0;
    const room = window.innerHeight - top - under - below - 2;
    box.style.height = `${Math.max(200, Math.floor(stacked ? Math.min(box.clientWidth, room) : room))}px`;
    layout();
  }

  // ---- zoom and pan: the image is placed by its width, height and offset inside the viewer (no CSS transform,
  // so "pixel-exact" really maps one image pixel to whole screen pixels at native size and above)
  function picture() {
    const box = viewer();
    return box ? box.querySelector("img.review-overlay") || box.querySelector("#review-picture") : null;
  }

  function layout() {
    const box = viewer();
    const img = picture();
    if (!box || !img) return;
    const natural = {w: Number(box.dataset.width) || img.naturalWidth, h: Number(box.dataset.height) || img.naturalHeight};
    if (!natural.w || !natural.h) return;
    const fit = Math.min(box.clientWidth / natural.w, box.clientHeight / natural.h);
    const scale = fit * review.view.zoom;
    const w = natural.w * scale, h = natural.h * scale;
    let left = box.clientWidth / 2 - review.view.x * w, top = box.clientHeight / 2 - review.view.y * h;
    if (w <= box.clientWidth) left = (box.clientWidth - w) / 2; else left = Math.min(0, Math.max(box.clientWidth - w, left));
    if (h <= box.clientHeight) top = (box.clientHeight - h) / 2; else top = Math.min(0, Math.max(box.clientHeight - h, top));
    Object.assign(img.style, {width: `${w}px`, height: `${h}px`, left: `${left}px`, top: `${top}px`});
    img.classList.toggle("pixelated", review.settings.pixelated);
    box.dataset.scale = scale.toFixed(4);  // screen pixels per image pixel, for the readout and the tests
    const readout = $("#zoom-level");
    const text = `zoom ${Math.round(scale * window.devicePixelRatio * 100)}% of native`;
    if (readout && readout.textContent !== text) readout.textContent = text;  // unchanged text: no DOM change to observe
    document.querySelectorAll("#zoom-keep, #zoom-pixelated").forEach((box_) => {
      box_.checked = box_.id === "zoom-keep" ? review.settings.keepZoom : review.settings.pixelated;
    });
  }

  function zoomBy(factor, at) {  // ``at``: the viewer point that stays put (default: the centre)
    const box = viewer();
    const img = picture();
    if (!box || !img) return;
    const rect = img.getBoundingClientRect(), frame = box.getBoundingClientRect();
    const point = at || {x: frame.left + frame.width / 2, y: frame.top + frame.height / 2};
    const fx = (point.x - rect.left) / rect.width, fy = (point.y - rect.top) / rect.height;
    const native = 1 / (Number(box.dataset.scale) / review.view.zoom * window.devicePixelRatio);  // zoom of 1 image px : 1 screen px
    const zoom = Math.min(Math.max(64, 8 * native), Math.max(Math.min(1, native), review.view.zoom * factor));
    // keep image point (fx, fy) under ``point``: the new centre is that point moved by the offset from the centre
    const w = rect.width * zoom / review.view.zoom, h = rect.height * zoom / review.view.zoom;
    review.view = {
      zoom,
      x: fx - (point.x - frame.left - frame.width / 2) / w,
      y: fy - (point.y - frame.top - frame.height / 2) / h,
    };
    layout();
  }

  function zoomToNative() {
    const box = viewer();
    if (!box || !box.dataset.scale) return;
    zoomBy(1 / (Number(box.dataset.scale) * window.devicePixelRatio));
  }

  function resetZoom() {
    review.view = {zoom: 1, x: 0.5, y: 0.5};
    layout();
  }

  function panBy(dx, dy) {
    const img = picture();
    if (!img) return;
    review.view.x -= dx / img.getBoundingClientRect().width;
    review.view.y -= dy / img.getBoundingClientRect().height;
    layout();
  }

  const pointers = new Map();
  document.addEventListener("pointerdown", (event) => {
    if (!event.target.closest || !event.target.closest("#review-viewer")) return;
    pointers.set(event.pointerId, {x: event.clientX, y: event.clientY});
    event.target.setPointerCapture && event.target.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  document.addEventListener("pointermove", (event) => {
    const last = pointers.get(event.pointerId);
    if (!last) return;
    if (pointers.size === 1) {
      panBy(event.clientX - last.x, event.clientY - last.y);
    } else {  // pinch: the change of distance between two fingers, about their midpoint
      const [a, b] = [...pointers.values()];
      const other = a === last ? b : a;
      const before = Math.hypot(last.x - other.x, last.y - other.y);
      const after = Math.hypot(event.clientX - other.x, event.clientY - other.y);
      if (before > 0) zoomBy(after / before, {x: (event.clientX + other.x) / 2, y: (event.clientY + other.y) / 2});
    }
    pointers.set(event.pointerId, {x: event.clientX, y: event.clientY});
  });
  const release = (event) => pointers.delete(event.pointerId);
  document.addEventListener("pointerup", release);
  document.addEventListener("pointercancel", release);
  document.addEventListener("wheel", (event) => {
    if (!event.target.closest || !event.target.closest("#review-viewer")) return;
    event.preventDefault();
    zoomBy(Math.exp(-event.deltaY / 300), {x: event.clientX, y: event.clientY});
  }, {passive: false});
  document.addEventListener("dblclick", (event) => {
    if (event.target.closest && event.target.closest("#review-viewer")) resetZoom();
  });

  function toggleFullScreen() {
    const layoutBox = $("#review-form");
    if (!layoutBox) return;
    if (document.fullscreenElement) document.exitFullscreen();
    else layoutBox.requestFullscreen().catch(() => {});
  }

  // ---- toolbar (its own buttons, so a mouse user has every key's action)
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-zoom]");
    if (!button) return;
    const action = button.dataset.zoom;
    if (action === "in") zoomBy(1.25);
    else if (action === "out") zoomBy(0.8);
    else if (action === "reset") resetZoom();
    else if (action === "native") zoomToNative();
    else if (action === "fullscreen") toggleFullScreen();
  });
  document.addEventListener("change", (event) => {
    if (event.target.id === "zoom-keep") review.settings.keepZoom = event.target.checked;
    else if (event.target.id === "zoom-pixelated") review.settings.pixelated = event.target.checked;
    else {
      if (event.target.closest && event.target.closest("#review-abcd")) review.explicitQuestion = null;
      markQuestion();
      return;
    }
    saveSettings();
    layout();
  });

  // ---- the ABCD checklist by keyboard: A–D pick a question, Y / N / U answer it (default: the first one unanswered)
  function answered(question) {
    return document.querySelector(`#answer-abcd-${question} input:checked`) !== null;
  }

  function currentQuestion() {
    if (review.explicitQuestion !== null) return review.explicitQuestion;
    const open = QUESTIONS.findIndex((q) => !answered(q));
    return open === -1 ? null : open;
  }

  function markQuestion() {
    const current = currentQuestion();
    QUESTIONS.forEach((q, i) => {
      const block = $(`#answer-abcd-${q}`);
      if (block) block.classList.toggle("abcd-current", i === current);
    });
  }

  function answerQuestion(answer) {
    const current = currentQuestion();
    if (current === null) return false;
    const input = document.querySelector(`#answer-abcd-${QUESTIONS[current]} input[value="${answer}"]`);
    if (!input) return false;
    input.click();
    review.explicitQuestion = null;
    setTimeout(markQuestion, 0);
    return true;
  }

  function clickShown(selector) {
    const element = $(selector);
    if (shown(element)) { element.click(); return true; }  // hidden controls do nothing
    return false;
  }

  function answerKey(key, at) {  // one answer key (or Enter: Save & next) on the image now on screen
    if (key === "enter") { review.enterAt = at; clickShown("#save-next"); }
    else if (key === "r") clickShown('#answer-call input[value="real"]');
    else if (key === "s") clickShown('#answer-call input[value="synthetic"]');
    else if (key === "g" || key === "l" || key === "v") clickShown(`#answer-certainty input[value="${"glv".indexOf(key) + 1}"]`);
    else if (/^[1-7]$/.test(key)) clickShown(`#answer-realism input[value="${key}"]`);
    else if (/^[abcd]$/.test(key)) { review.explicitQuestion = "abcd".indexOf(key); markQuestion(); }
    else if (key === "y") answerQuestion("yes");
    else if (key === "n") answerQuestion("no");
    else if (key === "u") answerQuestion("unsure");
  }

  function replayTypedAhead() {  // the form of the new image is ready: the keys typed meanwhile, in order
    while (review.typedAhead.length && !review.pending) {
      const {key} = review.typedAhead.shift();
      answerKey(key, performance.now());
    }
  }

  // ---- keys: each does what its label says, wherever the focus is
  document.addEventListener("keydown", (event) => {
    const form = $("#review-form");
    const instructions = $("#review-instructions");
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"));
    const key = event.key.toLowerCase();
    if (typing) {  // Esc leaves the comment (or the study picker) for the image, where the answer keys act again
      if (key === "escape" && target.closest && target.closest("#answer-comment, #review-study")) {
        target.blur();
        focusImage(true);
        event.preventDefault();
      }
      return;
    }
    const onButton = target && target.closest && target.closest("button, a");
    const act = (done) => { if (done !== false) event.preventDefault(); };
    const click = clickShown;
    if (shown(instructions)) {
      if (key === "enter" && !onButton) act(click("#review-begin"));
      return;
    }
    if (!shown(form)) {
      if (key === "h" || key === "?") act(click("#review-help"));
      return;
    }
    if (key === "m") {  // the comment box, by keyboard (Esc comes back)
      const comment = $("#answer-comment textarea, #answer-comment input");
      if (shown(comment) && !review.pending) { comment.focus(); act(); }
      return;
    }
    if (/^[rs1-7ynuabcdglv]$/.test(key) || (key === "enter" && !onButton)) {
      // typed while the last answer is being saved: they are for the image already on screen, so they wait for its form
      if (review.pending) review.typedAhead.push({key, at: event.timeStamp}); else answerKey(key, event.timeStamp);
      return act();
    }
    if (key === "arrowleft" && !(target && target.closest && target.closest("input"))) return act(click("#back"));
    if (key === "+" || key === "=") { zoomBy(1.25); act(); }
    if (key === "-" || key === "_") { zoomBy(0.8); act(); }
    else if (key === "0") { resetZoom(); act(); }
    else if (key === "x") { zoomToNative(); act(); }
    else if (key === "f") { toggleFullScreen(); act(); }
    else if (key === "p") { review.settings.pixelated = !review.settings.pixelated; saveSettings(); layout(); act(); }
    else if (key === "k") { review.settings.keepZoom = !review.settings.keepZoom; saveSettings(); layout(); act(); }
    else if (key === "h" || key === "?") act(click("#review-help"));
  });

  // ---- instant next image: "Save & next" (mouse, Enter, or a key on the focused button) draws the prefetched copy
  // at once, before Gradio even sends the answer; the form stays locked until the server has stored it
  function drawn(optimistic) {
    const started = review.pressedAt;
    if (started === null) return;
    review.pressedAt = null;
    const inserted = performance.now() - started;
    requestAnimationFrame(() => { const raf = performance.now() - started; setTimeout(() => review.latencies.push({ms: performance.now() - started, optimistic, inserted, raf}), 0); });
  }

  const complete = () => ["answer-call", "answer-realism", ...QUESTIONS.map((q) => `answer-abcd-${q}`),
                          ...(shown($("#answer-certainty")) ? ["answer-certainty"] : [])]  // how sure: where the study asks it
    .every((id) => document.querySelector(`#${id} input:checked`) !== null);

  let replaying = false;
  document.addEventListener("click", (event) => {
    if (replaying || !event.target.closest || !event.target.closest("#save-next") || review.pending) return;
    const box = viewer();
    const current = box && box.querySelector("#review-picture");
    // the moment of the press: the key's, when Enter led here, else the click's own
    review.pressedAt = review.savePressedAt = review.enterAt !== null && performance.now() - review.enterAt < 100 ? review.enterAt : event.timeStamp;
    review.enterAt = null;
    review.sourceBeforeSave = current ? current.getAttribute("src") : null;
    if (!complete()) return;  // the server will say what is missing
    review.pending = true;
    form().classList.add("saving");  // choices made now would be wiped by the next image's form: none until it is shown
    const next = box && box.dataset.optimistic === "1" ? box.dataset.next : null;
    const ready = next && review.prefetched.get(next);
    if (!ready || !ready.complete || !current) return;
    const overlay = ready.cloneNode();  // a decoded copy: the browser paints it from memory
    overlay.classList.add("review-overlay");
    current.style.visibility = "hidden";
    box.appendChild(overlay);
    if (!review.settings.keepZoom) review.view = {zoom: 1, x: 0.5, y: 0.5};
    layout();
    drawn(true);
    // Gradio's own handling of the click keeps the browser busy for ~50 ms: let the new image be painted first,
    // then hand the click on (the answer leaves one frame later, a fraction of the save's round trip).
    event.stopImmediatePropagation();
    event.preventDefault();
    const button = event.target.closest("#save-next");
    requestAnimationFrame(() => setTimeout(() => { replaying = true; button.click(); replaying = false; }, 0));
  }, true);

  const form = () => $("#review-form") || document.body;

  review.settle = () => {  // the server has answered: its page replaces ours; an overlay still here means "not moved"
    if (review.savePressedAt !== undefined) review.saves.push(performance.now() - review.savePressedAt);
    review.savePressedAt = undefined;
    const box = viewer();
    const overlay = box && box.querySelector("img.review-overlay");
    const current = box && box.querySelector("#review-picture");
    if (overlay) {  // not saved: back to the image whose answers are still in the form; keys typed for the next one dropped
      overlay.remove();
      if (current) current.style.visibility = "";
      review.typedAhead = [];
      review.pressedAt = null;
      unlock();
      onNewPage(true);
      return;
    }
    if (current && current.getAttribute("src") !== review.sourceBeforeSave) {
      // no prefetched copy (the last image, or a save without one): the image came with the server's answer
      if (current.complete) drawn(false); else current.addEventListener("load", () => drawn(false), {once: true});
    } else {
      review.pressedAt = null;
    }
    onNewPage(true);
    // Gradio draws the new image's answers a moment after this: until the form shows them, it stays locked and keys
    // wait, so that nothing chosen in between is wiped out (at most 3 s, should the form never match)
    const until = performance.now() + 3000;
    const whenShown = () => {
      if (!formShows() && performance.now() < until) { requestAnimationFrame(whenShown); return; }
      unlock();
      replayTypedAhead();
    };
    whenShown();
  };

  function unlock() {
    review.pending = false;
    form().classList.remove("saving");
  }

  function formShows() {  // is each choice shown as the server sent it with the image (data-answers: {control id: value})?
    const box = viewer();
    if (!box || !box.dataset.answers) return true;  // no image (the study is complete): nothing to wait for
    return Object.entries(JSON.parse(box.dataset.answers)).every(([id, value]) => {
      const checked = document.querySelector(`#${id} input:checked`);
      return (checked ? checked.value : null) === value;
    });
  }

  // ---- each new image: place it, prefetch the one after, mark the first open ABCD question
  let shownSource = null, instructionsShown = false;
  function onNewPage(afterServer = false) {
    const instructions = $("#review-instructions");
    if (shown(instructions) !== instructionsShown || afterServer) {  // the instructions just opened: Enter (or Space) begins
      instructionsShown = shown(instructions);
      if (instructionsShown && $("#review-begin")) $("#review-begin").focus();
    }
    const box = viewer();
    const img = box && box.querySelector("#review-picture");
    if (!img) { shownSource = null; return; }
    if (img.getAttribute("src") !== shownSource) {
      shownSource = img.getAttribute("src");
      if (!review.settings.keepZoom) review.view = {zoom: 1, x: 0.5, y: 0.5};
      review.explicitQuestion = null;
      if (!img.complete) img.addEventListener("load", sizeViewer, {once: true});
    }
    if (shown(box)) sizeViewer();
    const next = box.dataset.next;
    if (next && !review.prefetched.has(next)) {
      const ahead = new Image();
      ahead.src = next;
      ahead.decode().catch(() => {}).finally(() => { if (review.prefetched.size > 8) review.prefetched.delete(review.prefetched.keys().next().value); });
      review.prefetched.set(next, ahead);
    }
    markQuestion();
  }

  // ---- signed out while the page is open (a new password, a disabled account, a restarted server): Gradio answers 401
  // and shows nothing, so the page asks the server (GET session: 204 signed in, 401 not) when "Save & next" is pressed,
  // when it comes back into view, and every 10 s; signed out, it says so, and that the answer on screen was not saved
  async function checkSignedIn() {
    if ($("#review-signed-out")) return;
    try {
      const response = await fetch("session", {cache: "no-store", credentials: "same-origin"});
      if (response.status === 401) signedOut();
    } catch (unreachable) {}  // a restart or a network hiccup: asked again at the next occasion
  }
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#save-next")) checkSignedIn();
  }, true);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) checkSignedIn(); });
  window.addEventListener("focus", checkSignedIn);
  setInterval(checkSignedIn, 10000);
  function signedOut() {
    if ($("#review-signed-out")) return;
    const notice = document.createElement("div");
    notice.id = "review-signed-out";
    notice.setAttribute("role", "alertdialog");
    notice.innerHTML = "<p><strong>You have been signed out.</strong> The study admin changed your password or paused " +
      "your account, or the server was restarted. The answer on screen was not saved; every answer saved before is kept.</p>" +
      '<button type="button">Sign in again</button>';
    notice.querySelector("button").addEventListener("click", () => window.location.reload());
    document.body.appendChild(notice);
    notice.querySelector("button").focus();
    review.typedAhead = [];
  }

  // ---- after Start, Begin, Back or Instructions the focus leaves the button: answer keys and Enter ("Save & next") act on
  // the image at once, and an Enter meant for the image never presses the button again (Start would show it afresh, blank)
  const ACTION_BUTTONS = "#review-start, #review-begin, #back, #review-help, #cannot-assess";
  function focusImage(always = false) {
    const focused = document.activeElement;
    const onAction = focused && focused.closest && focused.closest(ACTION_BUTTONS);
    if (!(always || onAction || focused === document.body || focused === null) || !shown($("#review-form"))) return;
    const box = viewer();
    if (box && shown(box)) box.focus({preventScroll: true});
  }

  // Start again on the study already on screen would redraw the image with its saved answers: answers chosen and not
  // yet saved would be lost, so it only hands the focus back to the image (another study in the picker still starts)
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("#review-start")) return;
    const picked = document.querySelector("#review-study input");
    const same = picked && review.study !== undefined && picked.value === review.study;
    if (same && shown($("#review-form")) && !formShows()) {
      event.stopImmediatePropagation();
      event.preventDefault();
      focusImage();
      return;
    }
    review.study = picked ? picked.value : undefined;
  }, true);

  review.refresh = () => {  // after each server answer (visibility changes are not DOM insertions)
    const picked = document.querySelector("#review-study input");
    if (picked && shown($("#review-form"))) review.study = picked.value;  // the study on screen, opened by the page load too
    onNewPage(true);
    focusImage();
  };
  let scheduled = false;  // many DOM changes come at once: look at the page once per frame
  new MutationObserver(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; onNewPage(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
  window.addEventListener("resize", sizeViewer);
  document.addEventListener("fullscreenchange", () => setTimeout(sizeViewer, 50));
})();
