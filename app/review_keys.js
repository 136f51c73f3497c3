// The reviewer's page in the browser: keys, "Save & next" drawn at once, where the focus goes, the sign-out notice.
// Everything here is display: what is saved, and where the reviewer is, is decided on the server. The screen it acts on
// (sizing, zoom and pan, the next image fetched ahead) is review_screen.js, which runs first.
(() => {
  const review = window.fairskinReview;
  const {$, shown, viewer, saveSettings, layout, zoomBy, zoomToNative, resetZoom, toggleFullScreen, QUESTIONS,
         markQuestion, answerQuestion, onNewPage} = review.screen;

  // ---- answer keys on the image now on screen: R / S, 1–7, G / L / V, A–D then Y / N / U, Enter
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
})();
