// The reviewer's screen in the browser: one-screen sizing, zoom and pan, the next image fetched ahead, the marked ABCD
// question. Everything here is display: what is saved, and where the reviewer is, is decided on the server. What the
// reviewer does with keys and buttons is review_keys.js, which runs after this and uses `window.fairskinReview.screen`.
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

  // ---- the ABCD checklist: the question Y / N / U answer is marked (A–D pick one, review_keys.js; default: the first open)
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

  // what the keys and buttons (review_keys.js) act on
  review.screen = {$, shown, viewer, saveSettings, layout, zoomBy, zoomToNative, resetZoom, toggleFullScreen, QUESTIONS, markQuestion,
                   answerQuestion, onNewPage};

  let scheduled = false;  // many DOM changes come at once: look at the page once per frame
  new MutationObserver(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; onNewPage(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
  window.addEventListener("resize", sizeViewer);
  document.addEventListener("fullscreenchange", () => setTimeout(sizeViewer, 50));
})();
